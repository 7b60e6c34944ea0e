/**
 * @module policy/core/formation
 * The formation policy: a topology reactor with the six strategies of the crate we re-imagine
 * (../shared/reference/engenho-revoada.md §3) — solo, pair, quorum-3m, cluster-3m-nw, mesh-all-peers and
 * phalanx (⌈2n/5⌉ masters) — where a "master" holds every control-plane role (and so is a Raft voter).
 *
 * It fixes the reference's gaps by construction: there is no reactor state to forget — the current
 * assignment is derived from the committed shape and the membership view on every evaluation, so committed
 * transitions are always "applied back"; a failed node that returns is simply eligible again; every choice
 * is deterministic (ranked, then NodeId); and mesh-all-peers promotes late joiners like everyone else.
 * Current masters that are alive are kept before anyone new is chosen, so a steady cluster proposes nothing.
 */
import { CONTROL_PLANE_ROLES } from '../../consensus/shape/core/types.js'
import { MAX_ETCD_HOLDERS } from '../../consensus/shape/core/constants.js'
import { rankCandidates } from './ranking.js'
import { STABILIZATION_MS_DEFAULT } from './auto-replacement.js'
import { isCaughtUp } from './types.js'
import type { ControlPlaneRole, MemberInfo, NodeId, Policy, PolicyInput, PolicyOutput, Proposal, Withheld } from './types.js'

export const STRATEGIES = ['solo', 'pair', 'quorum-3m', 'cluster-3m-nw', 'mesh-all-peers', 'phalanx'] as const
export type StrategyName = typeof STRATEGIES[number]

export interface Strategy {
  name: StrategyName
  /** Fewest eligible nodes the strategy forms a cluster with. */
  minNodes: number
  /** Masters wanted among `n` eligible nodes (n >= minNodes). */
  masters(n: number): number
}

/** Phalanx: ⌈2n/5⌉, computed exactly in integers; 0 for 0. */
export function phalanxMasters (n: number): number {
  return n <= 0 ? 0 : Math.floor((2 * n + 4) / 5)
}

export function strategy (name: StrategyName): Strategy {
  switch (name) {
    case 'solo': return { name, minNodes: 1, masters: () => 1 }
    case 'pair': return { name, minNodes: 2, masters: () => 2 }
    case 'quorum-3m': return { name, minNodes: 3, masters: () => 3 }
    case 'cluster-3m-nw': return { name, minNodes: 3, masters: () => 3 }
    // Every peer is a master, up to the etcd limit of the shape (beyond it the rest stay workers).
    case 'mesh-all-peers': return { name, minNodes: 1, masters: (n) => Math.min(n, MAX_ETCD_HOLDERS) }
    case 'phalanx': return { name, minNodes: 1, masters: (n) => Math.max(1, phalanxMasters(n)) }
  }
}

const isMaster = (input: PolicyInput, id: NodeId): boolean => CONTROL_PLANE_ROLES.every((role) => input.shape.holds(id, role))
const holdsAny = (input: PolicyInput, id: NodeId): ControlPlaneRole[] => CONTROL_PLANE_ROLES.filter((role) => input.shape.holds(id, role))

/**
 * The masters the strategy wants: current masters alive or merely suspect first (best-ranked kept when there
 * are too many), then the best-ranked alive, stable candidates whose log has caught up (PolicyInput.caughtUp).
 * Lost nodes are never chosen. Suspicion alone never moves a role: a suspect member counts among the nodes
 * and a suspect master keeps its place, or a late heartbeat would promote a master beside it (and demote one
 * when it clears) or shrink phalanx's count.
 */
export function chooseMasters (s: Strategy, input: PolicyInput, stabilizationMs: number): { masters: NodeId[], withheld: string | null } {
  const { view, shape, nowMs } = input
  const present = view.filter((m) => (m.health === 'alive' || m.health === 'suspect') && shape.has(m.nodeId) && !shape.isQuarantined(m.nodeId))
  const eligible = present.filter((m) => m.health === 'alive')
  const current = present.filter((m) => isMaster(input, m.nodeId))
  if (present.length < s.minNodes) {
    return { masters: current.map((m) => m.nodeId).sort(), withheld: `${present.length} eligible nodes, ${s.name} needs ${s.minNodes}` }
  }
  const want = Math.min(s.masters(present.length), MAX_ETCD_HOLDERS)
  const kept = rankCandidates(current, shape, 'etcd', view).slice(0, want)
  const stable = (m: MemberInfo): boolean => input.aliveSinceMs.has(m.nodeId) && nowMs - (input.aliveSinceMs.get(m.nodeId) ?? nowMs) >= stabilizationMs
  const others = eligible.filter((m) => !kept.includes(m) && stable(m) && isCaughtUp(input, m.nodeId))
  const added = rankCandidates(others, shape, 'etcd', view).slice(0, want - kept.length)
  const masters = [...kept, ...added].map((m) => m.nodeId).sort()
  const short = want - masters.length
  return { masters, withheld: short > 0 ? `${short} master(s) short: candidates not yet stable or not caught up with the leader's log` : null }
}

export interface FormationOptions {
  strategy: StrategyName
  /** @default STABILIZATION_MS_DEFAULT */
  stabilizationMs?: number
}

/** The formation policy: promote chosen masters to every control-plane role, demote everyone else's. */
export function formation (options: FormationOptions): Policy {
  const s = strategy(options.strategy)
  const stabilizationMs = options.stabilizationMs ?? STABILIZATION_MS_DEFAULT
  const name = `formation:${s.name}`
  return {
    name,
    evaluate (input: PolicyInput): PolicyOutput {
      const { masters, withheld: note } = chooseMasters(s, input, stabilizationMs)
      const promotions: Proposal[] = []
      const failedDemotions: Proposal[] = []
      const rebalances: Proposal[] = []
      const withheld: Withheld[] = []
      if (note !== null) withheld.push({ policy: name, what: 'form the target shape', code: 'no-candidate', why: note, retryOn: 'membership' })
      const health = new Map(input.view.map((m) => [m.nodeId, m.health]))
      const aliveVoters = input.shape.voters().filter((id) => health.get(id) === 'alive').length
      for (const id of masters) {
        // Pins win over the strategy: a role pinned away from a node is never given to it.
        const missing = CONTROL_PLANE_ROLES.filter((role) => !input.shape.holds(id, role) && input.shape.pinOf(id, role) !== false)
        // Restoring the voter count comes first (issue 12 item 1); the rest is completing a master.
        const priority = missing.includes('etcd') && aliveVoters < masters.length ? 'voter' : 'role'
        if (missing.length > 0) promotions.push({ policy: name, command: { kind: 'promote', nodeId: id, roles: missing }, reason: 'scaling-up', why: `${s.name} wants ${id} as a master`, priority })
      }
      for (const id of input.shape.memberIds()) {
        if (masters.includes(id)) continue
        const h = health.get(id)
        // A pinned role stays on an alive node; a dead node loses even pinned roles (safety first).
        const held = holdsAny(input, id).filter((role) => h !== 'alive' || input.shape.pinOf(id, role) !== true)
        if (held.length === 0) continue
        // A holder that is merely unknown or suspect keeps its roles until membership decides.
        if (h !== 'alive' && h !== 'dead' && h !== 'left') continue
        // Never demote the last masters before their replacements hold the roles: the shape needs a voter.
        if (masters.length === 0) continue
        const priority = h === 'alive' ? 'scale-down' : held.includes('etcd') ? 'voter' : 'singleton'
        const proposal: Proposal = { policy: name, command: { kind: 'demote', nodeId: id, roles: held }, reason: h === 'alive' ? 'rebalance' : 'replacing-failed', why: `${s.name}: ${id} is not a master (${h})`, priority }
        if (h === 'alive') rebalances.push(proposal)
        else failedDemotions.push(proposal)
      }
      // Dead holders go first: their places may be needed (the shape caps etcd holders), and a promotion
      // queued before them behind the one-voter-change gate would wait forever (found by the property test).
      const proposals = [...failedDemotions, ...promotions, ...rebalances]
      return { proposals, withheld }
    }
  }
}
