/**
 * @module policy/core/gates
 * The safety gates between what policies want and what the leader proposes (issue 5 item 5), pure:
 * - quorum: act only when a majority of the voters (etcd holders) is alive in the view — a minority
 *   partition never promotes;
 * - in-flight: never two proposals for the same node at once;
 * - one voter change at a time (Raft allows one pending configuration change);
 * - damper: at most one role change per node per interval (a dead node's demotion is exempt: it cannot
 *   oscillate while dead, and delaying it delays failover) and a cluster-wide rate per window.
 */
import type { Command, MemberInfo, NodeId, Proposal, ShapeView, Withheld } from './types.js'

export interface DamperOptions {
  /** @default 60_000 */
  perNodeIntervalMs: number
  /** @default 10 */
  clusterMaxChanges: number
  /** @default 60_000 */
  clusterWindowMs: number
}

export const DAMPER_DEFAULTS: DamperOptions = { perNodeIntervalMs: 60_000, clusterMaxChanges: 10, clusterWindowMs: 60_000 }

/** Gate state carried between ticks (time is an input). */
export interface GateState {
  lastChangeMs: ReadonlyMap<NodeId, number>
  recentChangesMs: readonly number[]
  inFlight: ReadonlySet<NodeId>
  voterChangeInFlight: boolean
}

export const EMPTY_GATE_STATE: GateState = { lastChangeMs: new Map(), recentChangesMs: [], inFlight: new Set(), voterChangeInFlight: false }

/** True when a majority of `voters` is alive in the view (zero voters: nothing to split). */
export function votersReachable (voters: readonly NodeId[], view: readonly MemberInfo[]): boolean {
  if (voters.length === 0) return true
  const alive = new Set(view.filter((m) => m.health === 'alive').map((m) => m.nodeId))
  return voters.filter((id) => alive.has(id)).length >= Math.floor(voters.length / 2) + 1
}

/** Whether `command` changes the etcd holder set (and so the Raft voters). */
export function movesVoters (command: Command, shape: ShapeView): boolean {
  switch (command.kind) {
    case 'promote': case 'demote': return command.roles.includes('etcd')
    case 'quarantine': return shape.holders('etcd').includes(command.nodeId)
    default: return false
  }
}

/** Filters proposals through the gates; returns what passes and what was withheld and why. */
export function applyGates (input: {
  proposals: readonly Proposal[]
  shape: ShapeView
  view: readonly MemberInfo[]
  nowMs: number
  state: GateState
  damper: DamperOptions
}): { passed: Proposal[], withheld: Withheld[] } {
  const { shape, view, nowMs, state, damper } = input
  const withheld: Withheld[] = []
  const hold = (p: Proposal, code: Withheld['code'], why: string): void => {
    withheld.push({ policy: p.policy, what: describe(p.command), code, why })
  }
  if (!votersReachable(shape.voters(), view)) {
    for (const p of input.proposals) hold(p, 'no-quorum', `fewer than a majority of ${shape.voters().length} voters alive`)
    return { passed: [], withheld }
  }
  const health = new Map(view.map((m) => [m.nodeId, m.health]))
  let recent = state.recentChangesMs.filter((t) => nowMs - t < damper.clusterWindowMs).length
  let voterChange = state.voterChangeInFlight
  const seen = new Set<NodeId>()
  const passed: Proposal[] = []
  for (const p of input.proposals) {
    const id = 'nodeId' in p.command ? p.command.nodeId : ''
    const deadDemotion = p.command.kind === 'demote' && (health.get(id) === 'dead' || health.get(id) === 'left')
    const last = state.lastChangeMs.get(id)
    if (state.inFlight.has(id) || seen.has(id)) { hold(p, 'in-flight', 'a proposal for this node is in flight'); continue }
    if (!deadDemotion && last !== undefined && nowMs - last < damper.perNodeIntervalMs) {
      hold(p, 'damped-node', `changed ${nowMs - last} ms ago (< ${damper.perNodeIntervalMs} ms)`); continue
    }
    if (recent >= damper.clusterMaxChanges) { hold(p, 'damped-cluster', `${recent} changes in the last ${damper.clusterWindowMs} ms`); continue }
    if (movesVoters(p.command, shape)) {
      if (voterChange) { hold(p, 'one-voter-change', 'another voter change is pending'); continue }
      voterChange = true
    }
    seen.add(id)
    recent++
    passed.push(p)
  }
  return { passed, withheld }
}

export function describe (command: Command): string {
  switch (command.kind) {
    case 'promote': case 'demote': return `${command.kind} ${command.nodeId} ${command.roles.join(',')}`
    case 'set-target': return 'set-target'
    case 'set-catalog': return `set-catalog ${command.role}`
    default: return `${command.kind} ${command.nodeId}`
  }
}
