/**
 * @module policy/core/auto-replacement
 * Keeps every control-plane role at its target count (issue 5 item 3, issue 12). Per role: holders that
 * membership says are dead (or that left) are demoted — even a pinned one: a pin never keeps a dead node in
 * a role, safety first; the best-ranked healthy, stable, non-quarantined members whose Raft log has caught up
 * with the leader's are promoted up to the target (never a node pinned not to hold the role, and nodes that flapped recently only after steady
 * ones; one voter failure from losing quorum, nodes not yet stable too, after all stable ones); holders above the target are demoted least-liked first, never a pinned holder nor the one that
 * gained the role last (holders that gained it within the last minute go only after all others, oldest
 * gain first), and on equal merit not the leader. Suspect holders are neither replaced nor counted as
 * gone: suspicion alone never moves a role. Commands are grouped per node (one promote or demote per node
 * per evaluation) so a node takes all its new roles in one change; each carries the priority of the most
 * urgent thing it restores.
 */
import { CONTROL_PLANE_ROLES, targetFor } from '../../consensus/shape/core/types.js'
import { rankCandidates, rankForDemotion } from './ranking.js'
import { FLAPPED_RECENTLY_MS, JUST_PROMOTED_MS, LAGGING_RETRY_MS, STABILIZATION_MS_DEFAULT } from './constants.js'
import { isCaughtUp, PRIORITIES } from './types.js'
import type { ControlPlaneRole, MemberInfo, NodeId, Policy, PolicyInput, PolicyOutput, Priority, Proposal, Reason, Withheld } from './types.js'

export { STABILIZATION_MS_DEFAULT }

export interface AutoReplacementOptions {
  /** @default STABILIZATION_MS_DEFAULT */
  stabilizationMs?: number
}

interface Change { roles: ControlPlaneRole[], reason: Reason, why: string[], priority: Priority }

const moreUrgent = (a: Priority, b: Priority): Priority => PRIORITIES.indexOf(a) <= PRIORITIES.indexOf(b) ? a : b

/**
 * What restoring `role` from `alive` of `holders` is worth: a voter while one more voter failure would lose
 * quorum first (`alive - 1` below the majority of the current voters; from 2 alive up, since a second voter
 * adds no tolerance to a single one), other voters next, then a role that has none left.
 */
function restorationPriority (role: ControlPlaneRole, alive: number, holders: number): Priority {
  if (role !== 'etcd') return alive === 0 ? 'singleton' : 'role'
  return alive >= 2 && alive - 1 < Math.floor(holders / 2) + 1 ? 'quorum' : 'voter'
}

export function autoReplacement (options: AutoReplacementOptions = {}): Policy {
  const stabilizationMs = options.stabilizationMs ?? STABILIZATION_MS_DEFAULT
  const name = 'auto-replacement'
  return {
    name,
    evaluate (input: PolicyInput): PolicyOutput {
      const promotions = new Map<NodeId, Change>()
      const demotions = new Map<NodeId, Change>()
      const withheld: Withheld[] = []
      const add = (map: Map<NodeId, Change>, id: NodeId, role: ControlPlaneRole, change: Omit<Change, 'roles' | 'why'> & { why: string }): void => {
        const entry = map.get(id) ?? { roles: [], reason: change.reason, why: [], priority: change.priority }
        entry.roles.push(role)
        entry.why.push(change.why)
        entry.priority = moreUrgent(entry.priority, change.priority)
        map.set(id, entry)
      }
      for (const role of CONTROL_PLANE_ROLES) {
        withheld.push(...evaluateRole(input, role, { name, stabilizationMs, add: (kind, id, change) => { add(kind === 'promote' ? promotions : demotions, id, role, change) } }))
      }
      // Demotions of dead holders first: a promotion queued before them could exceed a hard limit (7 etcd
      // holders) and, behind the one-voter-change gate, block the demotion that would make room. The gates
      // then order everything by priority, keeping this order within one priority.
      const all = toProposals(name, 'demote', demotions)
      const failed = all.filter((p) => p.reason === 'replacing-failed')
      const extras = all.filter((p) => p.reason !== 'replacing-failed')
      return { proposals: [...failed, ...toProposals(name, 'promote', promotions), ...extras], withheld }
    }
  }
}

interface RoleContext {
  name: string
  stabilizationMs: number
  add: (kind: 'promote' | 'demote', id: NodeId, change: { reason: Reason, why: string, priority: Priority }) => void
}

/** One role's demotions of lost holders, promotions up to the target, or scale-down; returns what it withheld. */
function evaluateRole (input: PolicyInput, role: ControlPlaneRole, ctx: RoleContext): Withheld[] {
  const { shape, view } = input
  const byId = new Map<NodeId, MemberInfo>(view.map((m) => [m.nodeId, m]))
  const gone = (id: NodeId): boolean => { const h = byId.get(id)?.health; return h === 'dead' || h === 'left' }
  const target = targetFor(shape.target, role)
  const holders = shape.holders(role)
  const keep = holders.filter((id) => !gone(id))
  for (const id of holders.filter(gone)) {
    const pinned = shape.pinOf(id, role) === true ? ' (its pin is dropped: a pin never keeps a dead node in a role)' : ''
    ctx.add('demote', id, { reason: 'replacing-failed', why: `${role} holder ${short(id)} is ${byId.get(id)?.health ?? 'gone'}${pinned}`, priority: restorationPriority(role, keep.length, holders.length) })
  }
  if (keep.length < target) return promoteUpTo(input, role, { ...ctx, holders, keep: keep.length, target, lost: holders.some(gone) })
  if (keep.length > target) return scaleDown(input, role, { ...ctx, keep, target })
  return []
}

function promoteUpTo (input: PolicyInput, role: ControlPlaneRole, ctx: RoleContext & { holders: NodeId[], keep: number, target: number, lost: boolean }): Withheld[] {
  const { shape, view, nowMs } = input
  const willing = view.filter((m) => m.health === 'alive' && shape.has(m.nodeId) && !shape.isQuarantined(m.nodeId) &&
    !ctx.holders.includes(m.nodeId) && shape.pinOf(m.nodeId, role) !== false)
  // A member whose log lags the leader's gets no role yet (PolicyInput.caughtUp): as a voter it would hold
  // up every commit, and it cannot run a role its applied shape does not show.
  const eligible = willing.filter((m) => isCaughtUp(input, m.nodeId))
  const lagging = willing.length - eligible.length
  const since = (m: MemberInfo): number | undefined => input.aliveSinceMs.get(m.nodeId)
  const stable = eligible.filter((m) => since(m) !== undefined && nowMs - (since(m) ?? nowMs) >= ctx.stabilizationMs)
  const flapped = (m: MemberInfo): boolean => nowMs - (input.flappedAtMs?.get(m.nodeId) ?? -Infinity) < FLAPPED_RECENTLY_MS
  const need = ctx.target - ctx.keep
  const priority = restorationPriority(role, ctx.keep, ctx.holders.length)
  const steadyFirst = (members: MemberInfo[]): MemberInfo[] => {
    const ranked = rankCandidates(members, shape, role, view)
    return [...ranked.filter((m) => !flapped(m)), ...ranked.filter(flapped)]
  }
  const unstable = eligible.filter((m) => !stable.includes(m))
  // One failure from losing quorum, a node alive for less than the stabilization time is still a voter
  // more: it is used, after every stable candidate.
  const candidates = priority === 'quorum' ? [...steadyFirst(stable), ...steadyFirst(unstable)] : steadyFirst(stable)
  const chosen = candidates.slice(0, need)
  const pair = waitForSecondVoter(input, role, ctx, { need, chosen, unstable, lagging, since })
  if (pair !== null) return [pair]
  const reason: Reason = ctx.lost ? 'replacing-failed' : 'scaling-up'
  const edge = priority === 'quorum' ? '; one more voter failure would lose quorum' : ''
  for (const m of chosen) ctx.add('promote', m.nodeId, { reason, why: `${role} has ${ctx.keep}/${ctx.target}${edge}`, priority })
  if (chosen.length >= need) return []
  if (unstable.length === 0 && lagging > 0) {
    return [{
      policy: ctx.name, what: `promote ${need - chosen.length} ${role}`, code: 'lagging', retryOn: 'time', retryAtMs: nowMs + LAGGING_RETRY_MS,
      why: `${lagging} candidate(s) whose log has not caught up with the leader's`
    }]
  }
  if (unstable.length === 0) {
    return [{ policy: ctx.name, what: `promote ${need - chosen.length} ${role}`, code: 'no-candidate', why: 'no healthy, non-quarantined, unpinned member without the role', retryOn: 'membership' }]
  }
  // The candidate that becomes stable first names the retry time.
  const first = unstable.map((m) => ({ m, at: (since(m) ?? nowMs) + ctx.stabilizationMs })).sort((a, b) => a.at - b.at)[0]!
  return [{
    policy: ctx.name, what: `promote ${need - chosen.length} ${role}`, code: 'unstable', nodeId: first.m.nodeId, retryOn: 'time', retryAtMs: first.at,
    why: `${unstable.length} candidate(s) alive for less than ${ctx.stabilizationMs} ms`
  }]
}

/**
 * From one live voter, a second one alone adds no fault tolerance and makes every commit wait on it: the
 * 2-voter step stalled every logged 25-node formation (issue 16). When the target wants two voters more and
 * only one candidate is ready while another is merely not yet stable or not caught up, the promotion waits
 * for it, so that both enter in one joint change (the gates join them, gates.ts) — bounded: once the ready
 * candidate has been stable for another stabilization time, it goes alone. Null when nothing waits.
 */
function waitForSecondVoter (input: PolicyInput, role: ControlPlaneRole, ctx: RoleContext & { keep: number },
  c: { need: number, chosen: MemberInfo[], unstable: MemberInfo[], lagging: number, since: (m: MemberInfo) => number | undefined }): Withheld | null {
  const ready = c.chosen[0]
  if (role !== 'etcd' || ctx.keep !== 1 || c.need < 2 || c.chosen.length !== 1 || ready === undefined) return null
  if (c.unstable.length === 0 && c.lagging === 0) return null
  const patienceEndsAt = (c.since(ready) ?? input.nowMs) + 2 * ctx.stabilizationMs
  if (input.nowMs >= patienceEndsAt) return null
  const next = c.unstable.length > 0
    ? Math.min(...c.unstable.map((m) => (c.since(m) ?? input.nowMs) + ctx.stabilizationMs))
    : input.nowMs + LAGGING_RETRY_MS
  return {
    policy: ctx.name, what: `promote ${c.need} ${role}`, code: c.unstable.length > 0 ? 'unstable' : 'lagging', nodeId: ready.nodeId, retryOn: 'time',
    retryAtMs: Math.min(patienceEndsAt, next),
    why: `1 voter and 1 ready candidate: waiting for a second (${c.unstable.length} not yet stable, ${c.lagging} not caught up) so both become voters in one joint change`
  }
}

function scaleDown (input: PolicyInput, role: ControlPlaneRole, ctx: RoleContext & { keep: NodeId[], target: number }): Withheld[] {
  const { shape, view, nowMs } = input
  const byId = new Map<NodeId, MemberInfo>(view.map((m) => [m.nodeId, m]))
  const gainedAt = (id: NodeId): number => input.gainedAtMs?.get(`${id} ${role}`) ?? -Infinity
  const pinned = ctx.keep.filter((id) => shape.pinOf(id, role) === true)
  const recent = ctx.keep.filter((id) => !pinned.includes(id) && nowMs - gainedAt(id) < JUST_PROMOTED_MS)
  const holdersInfo = ctx.keep.map((id) => byId.get(id)).filter((m): m is MemberInfo => m !== undefined)
  const leader = input.leaderId !== undefined ? { leaderId: input.leaderId } : {}
  const order = rankForDemotion(holdersInfo, shape, role, view, { protect: new Set([...pinned, ...recent]), ...leader })
  // If every unpinned holder gained the role recently (a young cluster), the older gains may go, oldest
  // first — never the newest: that is the node just promoted.
  const newest = Math.max(...recent.map(gainedAt))
  const older = recent.filter((id) => gainedAt(id) < newest).sort((a, b) => gainedAt(a) - gainedAt(b) || (a < b ? -1 : 1))
  const chosen = [...order.map((m) => m.nodeId), ...older]
  const extra = ctx.keep.length - ctx.target
  for (const id of chosen.slice(0, extra)) ctx.add('demote', id, { reason: 'scaling-down', why: `${role} has ${ctx.keep.length}/${ctx.target}`, priority: 'scale-down' })
  if (chosen.length >= extra) return []
  const justPromoted = recent.filter((id) => !older.includes(id))
  // An unprotected holder the view does not list cannot be ranked, so it is not chosen either. That is no pin:
  // the operator has nothing to unpin, and a membership change that brings the holder back lets it pass.
  const unknown = ctx.keep.filter((id) => !byId.has(id) && !pinned.includes(id) && !recent.includes(id))
  const retryAtMs = justPromoted.length > 0 ? newest + JUST_PROMOTED_MS : undefined
  const retry = retryAtMs !== undefined
    ? { retryOn: 'time' as const, retryAtMs }
    : { retryOn: unknown.length > 0 ? 'membership' as const : 'operator' as const }
  return [{
    policy: ctx.name, what: `demote ${extra - chosen.length} ${role}`,
    ...(unknown[0] !== undefined ? { code: 'unknown-holder' as const, nodeId: unknown[0] } : { code: 'pinned' as const }),
    why: `${role} has ${ctx.keep.length}/${ctx.target} but ${pinned.length} holder(s) are pinned, ${justPromoted.length} just promoted` +
      ` and ${unknown.length} holder(s) not in the membership view`,
    ...retry
  }]
}

function toProposals (policy: string, kind: 'promote' | 'demote', changes: Map<NodeId, Change>): Proposal[] {
  return [...changes.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([nodeId, change]) => ({
    policy,
    command: { kind, nodeId, roles: sortedRoles(change.roles) },
    reason: change.reason,
    why: change.why.join('; '),
    priority: change.priority
  }))
}

function sortedRoles (roles: ControlPlaneRole[]): ControlPlaneRole[] {
  return CONTROL_PLANE_ROLES.filter((r) => roles.includes(r))
}

const short = (id: NodeId): string => id.length > 12 ? `…${id.slice(-8)}` : id
