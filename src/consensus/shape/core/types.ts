/**
 * @module consensus/shape/core/types
 * The MeshShape vocabulary (DESIGN.md §5): roles, commands, reasons, the target topology, the proposal
 * envelope and the typed apply result. Plain data, encodable with deterministic CBOR.
 */

export type NodeId = string

/** Kubernetes control-plane roles, in their canonical order (the order of sorted role lists). */
export const CONTROL_PLANE_ROLES = ['api-server', 'etcd', 'scheduler', 'controller-manager'] as const
export type ControlPlaneRole = typeof CONTROL_PLANE_ROLES[number]

/** Every role a node can hold. `worker` is derived: a member with no control-plane role and not quarantined. */
export const ROLES = [...CONTROL_PLANE_ROLES, 'worker', 'quarantined', 'observer'] as const
export type Role = typeof ROLES[number]

export const REASONS = ['replacing-failed', 'scaling-up', 'scaling-down', 'health-degraded', 'operator', 'rebalance', 'bootstrap', 'admission'] as const
export type Reason = typeof REASONS[number]

/** Desired count per control-plane role, plus a minimum number of workers. */
export interface TargetTopology {
  apiServers: number
  etcd: number
  schedulers: number
  controllerManagers: number
  minWorkers: number
}

export const TARGET_PRESETS: Readonly<Record<'homelab' | 'ha-three', TargetTopology>> = {
  homelab: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 1 },
  'ha-three': { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 3 }
}

export function targetFor (target: TargetTopology, role: ControlPlaneRole): number {
  switch (role) {
    case 'api-server': return target.apiServers
    case 'etcd': return target.etcd
    case 'scheduler': return target.schedulers
    case 'controller-manager': return target.controllerManagers
  }
}

export type Command =
  /** Only on an empty shape: the cluster's creator becomes a member holding every control-plane role. */
  | { kind: 'bootstrap', nodeId: NodeId }
  | { kind: 'add-member', nodeId: NodeId }
  | { kind: 'remove-member', nodeId: NodeId }
  | { kind: 'promote', nodeId: NodeId, roles: ControlPlaneRole[] }
  | { kind: 'demote', nodeId: NodeId, roles: ControlPlaneRole[] }
  | { kind: 'quarantine', nodeId: NodeId }
  | { kind: 'restore', nodeId: NodeId }
  | { kind: 'set-target', target: TargetTopology }

/**
 * What a proposer signs: the command with its reason, the proposer, the proposal id (exactly-once) and
 * the proposer's clock (informational; the authoritative time is the leader's stamp on the entry).
 * Addressed by the BLAKE3 CID of its canonical bytes.
 */
export interface Envelope {
  v: 1
  clusterId: string
  command: Command
  reason: Reason
  proposer: NodeId
  proposalId: { clientId: string, seq: number }
  proposedAtMs: number
}

/** Why a committed command did not change the shape. Every rejection is one of these, never silent. */
export const REJECTION_CODES = [
  'malformed', 'bad-signature', 'wrong-cluster', 'unknown-proposer', 'unknown-node', 'already-member',
  'node-quarantined', 'not-quarantined', 'role-not-held', 'role-already-held', 'last-voter',
  'holds-control-plane-role', 'limit-exceeded', 'invalid-target', 'not-empty', 'voters-not-moved',
  'voter-mismatch', 'removed-member'
] as const
export type RejectionCode = typeof REJECTION_CODES[number]

export type Outcome =
  | { kind: 'applied' }
  | { kind: 'rejected', code: RejectionCode, message: string }

/** The typed result of applying one committed proposal (issue 6 item 2). */
export interface ApplyResult {
  index: number
  term: number
  /** CID of the envelope (string form), or '' when the entry was not a decodable envelope. */
  cid: string
  outcome: Outcome
}
