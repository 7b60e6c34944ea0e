/**
 * @module dashboard/model
 * The state the dashboard shows, built from what the node's layers expose. One JSON value per push: the
 * page renders it whole, so a reconnecting page needs nothing else. A layer that is not running (content,
 * attestation until they exist) gives `null` and the page shows a placeholder.
 */
import type { ConsensusService } from '../consensus/consensus-service.js'
import type { MeshShape } from '../consensus/shape/core/index.js'
import type { MembershipService } from '../membership/membership-service.js'
import type { PolicyEngine } from '../policy/engine.js'
import type { Decision } from '../policy/core/index.js'
import type { Timeline, TimelineEntry, RoleMap } from './timeline.js'
import { DECISIONS_SENT, TIMELINE_ENTRIES_SENT } from './constants.js'

export interface DashboardMember {
  nodeId: string
  /** Health in this node's membership view; `unknown` for a shape member never heard from. */
  health: string
  phi: number | null
  /** Roles in the committed shape (what the cluster decided, not what the member last said). */
  roles: string[]
  voter: boolean
  leader: boolean
  self: boolean
  generation: number | null
  labels: Record<string, string>
}

export interface DashboardState {
  atMs: number
  self: string
  clusterId: string
  raft: {
    role: string, leader: string | null, term: number, commitIndex: number, appliedIndex: number,
    voters: string[], learners: string[], shapeCid: string, target: Record<string, number>
  } | null
  members: DashboardMember[]
  decisions: { recordedHere: boolean, items: Decision[] } | null
  timeline: TimelineEntry[]
  /** The attestation layer's status (height, head, seals…), or null until that layer runs. */
  chain: Record<string, unknown> | null
  /** The content layer's status (bytes, blobs…), or null until that layer runs. */
  content: Record<string, unknown> | null
}

export interface ModelSources {
  nowMs: number
  self: string
  clusterId: string
  consensus: ConsensusService | undefined
  membership: MembershipService | undefined
  policy: PolicyEngine | undefined
  chain: (() => Record<string, unknown>) | undefined
  content: (() => Record<string, unknown>) | undefined
  timeline: Timeline
}

/** Roles per member of the committed shape. */
export function shapeRoles (consensus: ConsensusService | undefined): RoleMap {
  if (consensus?.started !== true) return {}
  const shape = consensus.shapeMachine.shape
  return rolesOfMembers(shape, shape.memberIds())
}

/** Roles of those of `ids` that are members of `shape` (sorted by name, as the page shows them). */
export function rolesOfMembers (shape: MeshShape, ids: readonly string[]): RoleMap {
  const roles: RoleMap = {}
  for (const id of ids) if (shape.has(id)) roles[id] = [...shape.rolesOf(id)].sort()
  return roles
}

export function buildState (s: ModelSources): DashboardState {
  const roles = shapeRoles(s.consensus)
  const raft = raftPart(s.consensus)
  const view = s.membership?.view()
  const members = new Map<string, DashboardMember>()
  for (const m of view?.members ?? []) {
    members.set(m.nodeId, {
      nodeId: m.nodeId, health: m.health, phi: Number.isFinite(m.phi) ? Number(m.phi.toFixed(2)) : null,
      roles: roles[m.nodeId] ?? [], voter: false, leader: false, self: m.nodeId === s.self,
      generation: m.state.generation, labels: m.state.labels
    })
  }
  for (const [id, held] of Object.entries(roles)) {
    if (!members.has(id)) members.set(id, { nodeId: id, health: 'unknown', phi: null, roles: held, voter: false, leader: false, self: id === s.self, generation: null, labels: {} })
  }
  for (const m of members.values()) {
    m.voter = raft?.voters.includes(m.nodeId) ?? false
    m.leader = raft?.leader === m.nodeId
  }
  return {
    atMs: s.nowMs,
    self: s.self,
    clusterId: s.clusterId,
    raft,
    members: [...members.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
    decisions: s.policy !== undefined ? { recordedHere: raft?.role === 'leader', items: s.policy.decisions().slice(-DECISIONS_SENT).reverse() } : null,
    timeline: s.timeline.latest(TIMELINE_ENTRIES_SENT),
    chain: s.chain?.() ?? null,
    content: s.content?.() ?? null
  }
}

function raftPart (consensus: ConsensusService | undefined): DashboardState['raft'] {
  if (consensus?.started !== true) return null
  const status = consensus.node.status()
  return {
    role: status.role, leader: status.leader, term: status.term, commitIndex: status.commit,
    appliedIndex: consensus.node.appliedIndex(), voters: [...status.confState.voters].sort(),
    learners: [...status.confState.learners].sort(), shapeCid: consensus.shapeMachine.shapeCid(),
    target: { ...consensus.shapeMachine.shape.target }
  }
}
