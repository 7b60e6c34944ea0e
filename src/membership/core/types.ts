/**
 * @module membership/core/types
 * What a heartbeat carries and what the membership view shows (DESIGN.md §4). Gossip says who is alive;
 * it is never the source of truth for roles (the `roles` field echoes the committed shape for operators).
 */

export type NodeId = string

export interface Capacity {
  cpuMillis: number
  memoryBytes: number
  storageBytes: number
  pods: number
}

/** One node's self-description, published in every heartbeat. */
export interface NodeState {
  nodeId: NodeId
  clusterId: string
  addresses: string[]
  /** Roles as this node's committed shape gives them (informational). */
  roles: string[]
  capacity: Capacity
  /** zone, rack and free-form labels. */
  labels: Record<string, string>
  version: string
  kubernetesVersion: string
  uptimeMs: number
  /** Grows on every start of the node (persisted): a restarted node is newer than its old self. */
  generation: number
  /** Grows with every heartbeat within one generation. */
  seq: number
  /** True in the last heartbeats of a graceful stop: a planned leave, not a failure. */
  leaving: boolean
  /**
   * Members (other than this node) it is directly connected to and hears (alive) when it sends the heartbeat:
   * receivers that know more live members relay the heartbeat, the others absorb it (relay.ts). Absent from
   * older nodes.
   */
  reach?: number
  /**
   * The protocol level this node understands (consensus/shape/core/protocol.ts; rolling upgrades): the
   * leader raises the cluster's level once every member advertises it. Absent from nodes before the gate:
   * parseNodeState reads that as level 1.
   */
  protocol?: number
}

export type Health = 'alive' | 'suspect' | 'dead' | 'left'

export interface Member {
  nodeId: NodeId
  state: NodeState
  health: Health
  phi: number
  /** Local ms when the member's health last changed. */
  sinceMs: number
  lastHeartbeatMs: number
}

export type MembershipEventKind = 'joined' | 'suspect' | 'dead' | 'recovered' | 'left' | 'removed'

export interface MembershipEvent {
  kind: MembershipEventKind
  nodeId: NodeId
  atMs: number
  generation: number
}

/** The sorted members (self included) with their latest state and health. */
export interface MembershipView {
  self: NodeId
  members: Member[]
  atMs: number
}
