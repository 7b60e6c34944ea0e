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

/**
 * `quorum-recovery` (protocol level 8): a survivor's demote of a lost voter (docs/CHAIN.md §4); v1 envelopes only,
 * and below level 8 it applies as `malformed`, as the builds before it decode it.
 */
export const REASONS = ['replacing-failed', 'scaling-up', 'scaling-down', 'health-degraded', 'operator', 'rebalance', 'bootstrap', 'admission', 'quorum-recovery'] as const
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
  /**
   * Only on an empty shape: the cluster's creator becomes a member holding every control-plane role.
   * `protocol` (encoded only when present, 2 or more): the cluster starts at that protocol level, the
   * creator's own (protocol.ts), so a fresh cluster needs no raise; absent, it starts at level 1.
   */
  | { kind: 'bootstrap', nodeId: NodeId, protocol?: number }
  | { kind: 'add-member', nodeId: NodeId }
  | { kind: 'remove-member', nodeId: NodeId }
  /**
   * `pin: true` records the resulting assignment as the operator's (issue 12 item 2): the policy engine
   * scales around it and never undoes it until `unpin`. Without `pin`, a change clears the pins of the
   * roles it names (a later explicit change supersedes an earlier pin). A pinned promote of a role the
   * node already holds just pins it.
   * `with` (issue 16): more nodes given the same roles by the same command, so that several new etcd
   * holders enter the voters in ONE joint configuration change (1 → 3 voters without a 2-voter step).
   * Encoded only when present: ascending, distinct, without `nodeId`, at most MAX_ETCD_HOLDERS - 1.
   * `replacing` (issue 16): the node that gives these roles up in the same command, so that a lost voter's
   * replacement is ONE joint configuration change (out and in together) instead of a demotion and then a
   * promotion, each entered and left. Encoded only when present; never with `pin` or `with`, never `nodeId`.
   */
  | { kind: 'promote', nodeId: NodeId, roles: ControlPlaneRole[], pin?: true, with?: NodeId[], replacing?: NodeId }
  | { kind: 'demote', nodeId: NodeId, roles: ControlPlaneRole[], pin?: true }
  /** Drops the node's pins (of `roles`, or all of them). */
  | { kind: 'unpin', nodeId: NodeId, roles?: ControlPlaneRole[] }
  | { kind: 'quarantine', nodeId: NodeId }
  | { kind: 'restore', nodeId: NodeId }
  /**
   * Signed by `nodeId` itself after it lost its raft directory (issue 10 item 4): it gives up the etcd
   * role (it may have voted in terms it no longer remembers), and the leader removes it from the Raft
   * configuration so that admission re-adds it as a learner that replicates from scratch.
   */
  | { kind: 'rejoin', nodeId: NodeId }
  | { kind: 'set-target', target: TargetTopology }
  /**
   * Raises the cluster's protocol level (protocol.ts): proposed by the leader once every member advertises
   * at least `level`. Applies only upward; a node that does not know `level` stops applying (it must be
   * upgraded) instead of diverging.
   */
  | { kind: 'set-protocol', level: number }
  /** Replaces a role's manifest templates (the role catalog, DESIGN.md §5/§9); an empty list restores the default. */
  | { kind: 'set-catalog', role: ControlPlaneRole, templates: CatalogTemplate[] }

/**
 * One manifest template of a role: the file name it renders to in the static-pod directory and the CID
 * (CIDv1, raw, BLAKE3) of the template's bytes in the content layer.
 */
export interface CatalogTemplate {
  name: string
  cid: string
}

/**
 * What a proposer signs: the command with its reason, the proposer, the proposal id (exactly-once) and
 * the proposer's clock (informational; the authoritative time is the leader's stamp on the entry).
 * Addressed by the BLAKE3 CID of its canonical bytes.
 */
export interface SingleEnvelope {
  v: 1
  clusterId: string
  command: Command
  reason: Reason
  proposer: NodeId
  proposalId: { clientId: string, seq: number }
  proposedAtMs: number
}

/** One command of a batch envelope, with the reason its API caller gave. */
export interface BatchedCommand {
  command: BatchableCommand
  reason: Reason
}

/** The operator's role shifts a node batches from its API (docs/CONSENSUS.md, "Batched operator commands"). */
export const OPERATOR_BATCHABLE_KINDS = ['promote', 'demote', 'unpin', 'quarantine', 'restore'] as const
/**
 * Commands a batch envelope may carry, none of them inside a configuration change: the operator's role
 * shifts, and `add-member` — the leader admits every joiner waiting at once in one batch, then adds them
 * as learners in one configuration change (admission-loop.ts; issue 16). Bootstrap, rejoin, removal and
 * the target always go alone, in a v1 envelope.
 */
export const BATCHABLE_KINDS = [...OPERATOR_BATCHABLE_KINDS, 'add-member'] as const
export type BatchableCommand = Extract<Command, { kind: typeof BATCHABLE_KINDS[number] }>

/**
 * Several operator commands that reached one node while its previous batch was in flight (issue 16):
 * one proposer, one proposal id, one signature, one Raft entry and one chain block for all of them.
 * The commands apply in order, each with its own outcome (docs/ENCODING.md, docs/CONSENSUS.md).
 */
export interface BatchEnvelope {
  v: 2
  clusterId: string
  commands: BatchedCommand[]
  proposer: NodeId
  proposalId: { clientId: string, seq: number }
  proposedAtMs: number
}

/** A forwarded request's id: the follower's proposal id, `<follower NodeId>/<session>` and a sequence. */
export interface RequestId {
  clientId: string
  seq: number
}

/**
 * One group of a merged envelope: commands in arrival order, and — for commands a follower forwarded
 * unsigned to the leader (issue 16) — `via`, the follower's request id. Exactly-once applies per group.
 */
export interface CommandGroup {
  commands: BatchedCommand[]
  via?: RequestId
}

/**
 * A leader's batch with forwarded requests (issue 16, docs/ENCODING.md v3): its own queued commands (the
 * first group, without `via`, when it has any) and the groups followers forwarded, each under its `via`.
 * Signed by the leader alone: it vouches for each follower's request, and each group's `via` names the
 * node the commands came through. The groups apply in order; a group whose `via` was already applied
 * is skipped (`duplicate`).
 */
export interface MergedEnvelope {
  v: 3
  clusterId: string
  groups: CommandGroup[]
  proposer: NodeId
  proposalId: { clientId: string, seq: number }
  proposedAtMs: number
}

export type Envelope = SingleEnvelope | BatchEnvelope | MergedEnvelope

/** An operator's pinned assignment: `holds` true = the node keeps the role, false = it never gets it. */
export interface Pin {
  nodeId: NodeId
  role: ControlPlaneRole
  holds: boolean
}

/** Why a committed command did not change the shape. Every rejection is one of these, never silent. */
export const REJECTION_CODES = [
  'malformed', 'bad-signature', 'wrong-cluster', 'unknown-proposer', 'unknown-node', 'already-member',
  'node-quarantined', 'not-quarantined', 'role-not-held', 'role-already-held', 'last-voter',
  'holds-control-plane-role', 'limit-exceeded', 'invalid-target', 'not-empty', 'voters-not-moved',
  'voter-mismatch', 'invalid-catalog', 'not-self', 'not-pinned', 'removed-member',
  /** A forwarded group whose request id was already applied (a retry, issue 16): skipped, not applied again. */
  'duplicate-request',
  /** A forwarded group whose request id is older than the session table remembers: skipped. */
  'stale-request',
  /** A `set-protocol` whose level is not above the shape's (levels only go up). */
  'protocol-not-raised'
] as const
export type RejectionCode = typeof REJECTION_CODES[number]

/** The nodes a command changes: a promote's `nodeId`, its `with` list and the node it replaces; none for a target or catalog. */
export function commandNodeIds (command: Command): NodeId[] {
  if (command.kind === 'promote') return [command.nodeId, ...(command.with ?? []), ...(command.replacing !== undefined ? [command.replacing] : [])]
  return 'nodeId' in command ? [command.nodeId] : []
}

export type Outcome =
  | { kind: 'applied' }
  | { kind: 'rejected', code: RejectionCode, message: string }

/** The typed result of applying one committed proposal (issue 6 item 2). */
export interface ApplyResult {
  index: number
  term: number
  /** CID of the envelope (string form), or '' when the entry was not a decodable envelope. */
  cid: string
  /**
   * A v1 envelope: its command's outcome. A batch envelope: `applied` when the envelope itself was
   * accepted (cluster, signature, proposer), whatever its commands' outcomes; else the envelope's rejection.
   */
  outcome: Outcome
  /** A batch envelope only: each command's outcome, in order (the envelope's rejection for each when rejected). */
  outcomes?: Outcome[]
  /**
   * A forwarded group's result only (a merged envelope's group, recorded under its `via`): the position of
   * its first command in the entry and the entry's command count; `outcomes` are then the group's own.
   */
  group?: { first: number, commands: number }
}

/** How the session table knows a forwarded request id (injected into apply; identical on every replica). */
export type RequestLookup = 'new' | 'duplicate' | 'stale'

/**
 * A merged envelope's forwarded group that applied (its `via` was new): its result — the entry's position
 * and CID, the envelope's outcome, and the group's own command outcomes — which the session table records
 * under `via` and the follower's callers receive.
 */
export interface GroupResult {
  via: RequestId
  result: ApplyResult
}
