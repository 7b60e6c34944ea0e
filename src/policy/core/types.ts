/**
 * @module policy/core/types
 * What the policies see and say (DESIGN.md §6). A policy is a pure function of one snapshot of (membership
 * view, committed shape, time): it proposes commands and says what it withheld and why.
 */
import type { Command, ControlPlaneRole, Pin, Reason, Role, TargetTopology } from '../../consensus/shape/core/index.js'

export type NodeId = string
export type Health = 'alive' | 'suspect' | 'dead' | 'left'

/** The part of a membership entry the policies use (structurally a subset of membership's Member). */
export interface MemberInfo {
  nodeId: NodeId
  health: Health
  labels: Record<string, string>
  capacity: { cpuMillis: number, memoryBytes: number, storageBytes: number, pods: number }
  uptimeMs: number
}

/** The read-only part of the MeshShape the policies use. */
export interface ShapeView {
  readonly target: TargetTopology
  memberIds(): NodeId[]
  has(id: NodeId): boolean
  rolesOf(id: NodeId): Role[]
  holds(id: NodeId, role: Role): boolean
  holders(role: Role): NodeId[]
  voters(): NodeId[]
  isQuarantined(id: NodeId): boolean
  /** The operator's pin of `role` on `id` (true keep, false never give), or undefined. */
  pinOf(id: NodeId, role: ControlPlaneRole): boolean | undefined
}

export interface PolicyInput {
  view: readonly MemberInfo[]
  shape: ShapeView
  nowMs: number
  /** Per node, since when it has been continuously alive (flap stabilization); absent = not stable. */
  aliveSinceMs: ReadonlyMap<NodeId, number>
  /** Per node, when it last came back from suspect/dead/left (a flap); absent = never seen to flap. */
  flappedAtMs?: ReadonlyMap<NodeId, number>
  /** Per `nodeId role`, when the node gained the role (recently promoted nodes are kept on a scale-down). */
  gainedAtMs?: ReadonlyMap<string, number>
  /** The current Raft leader: all else equal, a scale-down keeps it (no needless leadership move). */
  leaderId?: NodeId
  /**
   * Members whose Raft log has caught up with the leader's (its replication progress); only they are
   * promoted. Absent = unknown: every member counts (the pure tests, an operator's intent check).
   */
  caughtUp?: ReadonlySet<NodeId>
}

/** True when `id` may be given a role as far as its log is concerned (see `PolicyInput.caughtUp`). */
export const isCaughtUp = (input: Pick<PolicyInput, 'caughtUp'>, id: NodeId): boolean => input.caughtUp === undefined || input.caughtUp.has(id)

/**
 * What a proposal restores, most urgent first (issue 12 item 1): the voter count (quorum margin), then a
 * lost singleton role (0 alive holders of a role), then any other role below target, then everything
 * else (scale-downs, rebalancing). The gates handle proposals in this order; `voter` and `singleton`
 * restorations are exempt from the damper unless the node they touch itself flapped.
 */
/**
 * Most urgent first. `quorum`: an etcd promotion while one more failure among the voters would lose quorum
 * (issue 12: safety first) — no damper or stabilization time holds it back; `voter`: any other change of the
 * etcd holders; `singleton`: a role with no live holder; `role`: other restorations; `scale-down`.
 */
export const PRIORITIES = ['quorum', 'voter', 'singleton', 'role', 'scale-down'] as const
export type Priority = typeof PRIORITIES[number]

export interface Proposal {
  policy: string
  command: Command
  reason: Reason
  why: string
  priority: Priority
}

export type WithheldCode = 'no-quorum' | 'in-flight' | 'damped-node' | 'damped-cluster' | 'unstable' | 'no-candidate' |
  'one-voter-change' | 'pinned' | 'unknown-holder' | 'lagging' | 'rejected'

/** When a withheld proposal is looked at again: at a time, when a pending change commits, or on an event. */
export type RetryOn = 'time' | 'commit' | 'membership' | 'operator'

export interface Withheld {
  policy: string
  what: string
  /** The gate (or policy condition) that withheld it. */
  code: WithheldCode
  why: string
  /** The node it concerns, when there is one. */
  nodeId?: NodeId
  retryOn: RetryOn
  /** With `retryOn: 'time'`: the earliest time it may pass (leader's clock, ms). */
  retryAtMs?: number
}

export interface PolicyOutput {
  proposals: Proposal[]
  withheld: Withheld[]
}

export interface Policy {
  readonly name: string
  evaluate(input: PolicyInput): PolicyOutput
}

/** One engine tick's audit record (bounded history, `revoada decisions`). */
export interface Decision {
  atMs: number
  trigger: 'membership' | 'shape' | 'audit' | 'manual'
  leader: boolean
  proposals: Proposal[]
  withheld: Withheld[]
}

export type { Command, ControlPlaneRole, Pin, Reason, Role, TargetTopology }
