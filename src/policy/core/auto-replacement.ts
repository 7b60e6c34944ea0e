/**
 * @module policy/core/auto-replacement
 * Keeps every control-plane role at its target count (issue 5 item 3). Per role: holders that membership
 * says are dead (or that left) are demoted; the best-ranked healthy, stable, non-quarantined members are
 * promoted up to the target; holders above the target are demoted (worst-ranked first). Suspect holders are
 * neither replaced nor counted as gone: suspicion alone never moves a role. Commands are grouped per node
 * (one promote or demote per node per evaluation) so a node takes all its new roles in one change.
 */
import { CONTROL_PLANE_ROLES, targetFor } from '../../consensus/shape/core/types.js'
import { rankCandidates } from './ranking.js'
import type { ControlPlaneRole, MemberInfo, NodeId, Policy, PolicyInput, PolicyOutput, Proposal, Reason, Withheld } from './types.js'

/** A node must have been alive this long before it is promoted (Consul autopilot uses 10 s). */
export const STABILIZATION_MS_DEFAULT = 10_000

export interface AutoReplacementOptions {
  stabilizationMs?: number
}

interface Change { roles: ControlPlaneRole[], reason: Reason, why: string[] }

export function autoReplacement (options: AutoReplacementOptions = {}): Policy {
  const stabilizationMs = options.stabilizationMs ?? STABILIZATION_MS_DEFAULT
  const name = 'auto-replacement'
  return {
    name,
    evaluate (input: PolicyInput): PolicyOutput {
      const { shape, view, nowMs } = input
      const byId = new Map<NodeId, MemberInfo>(view.map((m) => [m.nodeId, m]))
      const gone = (id: NodeId): boolean => { const h = byId.get(id)?.health; return h === 'dead' || h === 'left' }
      const promotions = new Map<NodeId, Change>()
      const demotions = new Map<NodeId, Change>()
      const withheld: Withheld[] = []
      const add = (map: Map<NodeId, Change>, id: NodeId, role: ControlPlaneRole, reason: Reason, why: string): void => {
        const change = map.get(id) ?? { roles: [], reason, why: [] }
        change.roles.push(role)
        change.why.push(why)
        map.set(id, change)
      }
      for (const role of CONTROL_PLANE_ROLES) {
        const target = targetFor(shape.target, role)
        const holders = shape.holders(role)
        for (const id of holders.filter(gone)) add(demotions, id, role, 'replacing-failed', `${role} holder ${short(id)} is ${byId.get(id)?.health ?? 'gone'}`)
        const keep = holders.filter((id) => !gone(id))
        if (keep.length < target) {
          const eligible = view.filter((m) => m.health === 'alive' && shape.has(m.nodeId) && !shape.isQuarantined(m.nodeId) &&
            !holders.includes(m.nodeId))
          const stable = eligible.filter((m) => nowMs - (input.aliveSinceMs.get(m.nodeId) ?? nowMs) >= stabilizationMs &&
            input.aliveSinceMs.has(m.nodeId))
          const need = target - keep.length
          const chosen = rankCandidates(stable, shape, role, view).slice(0, need)
          const reason: Reason = holders.some(gone) ? 'replacing-failed' : 'scaling-up'
          for (const m of chosen) add(promotions, m.nodeId, role, reason, `${role} has ${keep.length}/${target}`)
          if (chosen.length < need) {
            const unstable = eligible.length - stable.length
            withheld.push({
              policy: name, what: `promote ${need - chosen.length} ${role}`, code: unstable > 0 ? 'unstable' : 'no-candidate',
              why: unstable > 0 ? `${unstable} candidate(s) alive for less than ${stabilizationMs} ms` : 'no healthy, non-quarantined member without the role'
            })
          }
        } else if (keep.length > target) {
          const holdersInfo = keep.map((id) => byId.get(id)).filter((m): m is MemberInfo => m !== undefined)
          const worstFirst = rankCandidates(holdersInfo, shape, role, view).reverse()
          for (const m of worstFirst.slice(0, keep.length - target)) add(demotions, m.nodeId, role, 'scaling-down', `${role} has ${keep.length}/${target}`)
        }
      }
      // Demotions of dead holders first: a promotion queued before them could exceed a hard limit (7 etcd
      // holders) and, behind the one-voter-change gate, block the demotion that would make room.
      const all = toProposals(name, 'demote', demotions)
      const failed = all.filter((p) => p.reason === 'replacing-failed')
      const extras = all.filter((p) => p.reason !== 'replacing-failed')
      return { proposals: [...failed, ...toProposals(name, 'promote', promotions), ...extras], withheld }
    }
  }
}

function toProposals (policy: string, kind: 'promote' | 'demote', changes: Map<NodeId, Change>): Proposal[] {
  return [...changes.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([nodeId, change]) => ({
    policy,
    command: { kind, nodeId, roles: sortedRoles(change.roles) },
    reason: change.reason,
    why: change.why.join('; ')
  }))
}

function sortedRoles (roles: ControlPlaneRole[]): ControlPlaneRole[] {
  return CONTROL_PLANE_ROLES.filter((r) => roles.includes(r))
}

const short = (id: NodeId): string => id.length > 12 ? `…${id.slice(-8)}` : id
