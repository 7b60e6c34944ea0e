/**
 * @module policy/core/types
 * What the policies see and say (DESIGN.md §6). A policy is a pure function of one snapshot of (membership
 * view, committed shape, time): it proposes commands and says what it withheld and why.
 */
import type { Command, ControlPlaneRole, Reason, Role, TargetTopology } from '../../consensus/shape/core/index.js'

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
}

export interface PolicyInput {
  view: readonly MemberInfo[]
  shape: ShapeView
  nowMs: number
  /** Per node, since when it has been continuously alive (flap stabilization); absent = not stable. */
  aliveSinceMs: ReadonlyMap<NodeId, number>
}

export interface Proposal {
  policy: string
  command: Command
  reason: Reason
  why: string
}

export type WithheldCode = 'no-quorum' | 'in-flight' | 'damped-node' | 'damped-cluster' | 'unstable' | 'no-candidate' | 'one-voter-change'

export interface Withheld {
  policy: string
  what: string
  code: WithheldCode
  why: string
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

export type { Command, ControlPlaneRole, Reason, Role, TargetTopology }
