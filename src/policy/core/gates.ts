/**
 * @module policy/core/gates
 * The safety gates between what policies want and what the leader proposes (issue 5 item 5), pure:
 * - quorum: act only when a majority of the voters (etcd holders) is alive in the view — a minority
 *   partition never promotes;
 * - in-flight: never two proposals for the same node at once;
 * - one voter change at a time (Raft allows one pending configuration change);
 * - damper: at most one role change per node per interval and a cluster-wide rate per window. Exempt
 *   (issue 12 item 1): a dead node's demotion (it cannot oscillate while dead, and delaying it delays
 *   failover) and the restoration of a lost voter or a lost singleton role — unless the node it touches
 *   itself flapped (came back from suspect/dead within the interval): the damper exists against flapping.
 *   A `quorum` promotion (one more voter failure would lose quorum) is exempt even then: 3 voters of which
 *   one may flap again tolerate more than 2 steady ones. Scale-downs and rebalancing stay damped.
 * - rejected: a (command kind, node) whose last proposal the state machine rejected at apply waits, longer after
 *   each rejection in a row, unless its inputs changed (rejections.ts);
 * Proposals are handled in priority order (quorum, voter, singleton, role, scale-down), so a restoration is never
 * queued behind a scale-down for the one voter change or the cluster-wide budget.
 */
import { MAX_ETCD_HOLDERS } from '../../consensus/shape/core/constants.js'
import { commandNodeIds } from '../../consensus/shape/core/types.js'
import { PRIORITIES } from './types.js'
import { rejectionKeys } from './rejections.js'
import type { Rejections } from './rejections.js'
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

/**
 * The per-node damper's memory worth carrying to the next evaluation: the changes of members of the committed
 * shape made less than `perNodeIntervalMs` ago, the only window that reads them (applyGates). Bounded by the
 * shape's members however many node ids come and go; the caller keeps what this returns.
 */
export function prunedLastChange (lastChangeMs: ReadonlyMap<NodeId, number>,
  input: { shape: Pick<ShapeView, 'has'>, nowMs: number, damper: Pick<DamperOptions, 'perNodeIntervalMs'> }): Map<NodeId, number> {
  const kept = new Map<NodeId, number>()
  for (const [id, at] of lastChangeMs) {
    if (input.shape.has(id) && input.nowMs - at < input.damper.perNodeIntervalMs) kept.set(id, at)
  }
  return kept
}

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

/** True when the damper may hold `p` back: not a dead node's demotion, not a restoration (unless the node flapped). */
function dampable (p: Proposal, health: ReadonlyMap<NodeId, MemberInfo['health']>, flapped: boolean): boolean {
  const id = 'nodeId' in p.command ? p.command.nodeId : ''
  const h = health.get(id)
  if (p.command.kind === 'demote' && (h === 'dead' || h === 'left')) return false
  // One failure from losing quorum: a voter from a node that flapped beats no voter at all.
  if (p.priority === 'quorum') return false
  const restores = p.priority === 'voter' || p.priority === 'singleton'
  return !restores || flapped
}

export interface GatesInput {
  proposals: readonly Proposal[]
  shape: ShapeView
  view: readonly MemberInfo[]
  nowMs: number
  state: GateState
  damper: DamperOptions
  /** Per node, when it last came back from suspect/dead/left. */
  flappedAtMs?: ReadonlyMap<NodeId, number>
  /**
   * Whether etcd promotions may be joined into one `promote … with` (the cluster's protocol level knows
   * `with`); when not, the second voter change waits its turn. @default true
   */
  joinPromotions?: boolean
  /**
   * Whether a dead holder's demotion and a promotion of the same roles may be joined into one
   * `promote … replacing` (the cluster's protocol level knows `replacing`); when not, the promotion waits
   * for the demotion. @default true
   */
  joinReplacement?: boolean
  /** The (command kind, node) pairs backing off after a rejection at apply, pruned to unchanged inputs. @default none */
  rejections?: Rejections
}

/**
 * Filters proposals through the gates, most urgent first (priority order, stable within one priority);
 * returns what passes and what was withheld, each with its gate, node and retry condition.
 */
export function applyGates (input: GatesInput): { passed: Proposal[], withheld: Withheld[] } {
  const { shape, view, nowMs, state, damper } = input
  const withheld: Withheld[] = []
  const hold = (p: Proposal, code: Withheld['code'], why: string, retry: Pick<Withheld, 'retryOn' | 'retryAtMs'>): void => {
    const nodeId = 'nodeId' in p.command ? p.command.nodeId : undefined
    withheld.push({ policy: p.policy, what: describe(p.command), code, why, ...(nodeId !== undefined ? { nodeId } : {}), ...retry })
  }
  const ordered = [...input.proposals].sort((a, b) => PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority))
  if (!votersReachable(shape.voters(), view)) {
    for (const p of ordered) hold(p, 'no-quorum', `fewer than a majority of ${shape.voters().length} voters alive`, { retryOn: 'membership' })
    return { passed: [], withheld }
  }
  const health = new Map(view.map((m) => [m.nodeId, m.health]))
  const window = state.recentChangesMs.filter((t) => nowMs - t < damper.clusterWindowMs).sort((a, b) => a - b)
  let recent = window.length
  let voterChange = state.voterChangeInFlight
  const seen = new Set<NodeId>()
  const passed: Proposal[] = []
  for (const p of ordered) {
    const id = 'nodeId' in p.command ? p.command.nodeId : ''
    const last = state.lastChangeMs.get(id)
    const flappedAt = input.flappedAtMs?.get(id)
    const flapped = flappedAt !== undefined && nowMs - flappedAt < damper.perNodeIntervalMs
    const mayDamp = dampable(p, health, flapped)
    if (commandNodeIds(p.command).some((n) => state.inFlight.has(n) || seen.has(n))) { hold(p, 'in-flight', 'a proposal for this node is in flight', { retryOn: 'commit' }); continue }
    const backoff = rejectionKeys(p.command).map(({ key }) => input.rejections?.get(key)).find((r) => r !== undefined && nowMs < r.retryAtMs)
    if (backoff !== undefined) {
      const why = `rejected at apply ${backoff.count} time(s) in a row (${backoff.code}); proposed again at the retry time, or at once when its inputs change`
      hold(p, 'rejected', why, { retryOn: 'time', retryAtMs: backoff.retryAtMs })
      continue
    }
    const damping = [last, flapped ? flappedAt : undefined].filter((t): t is number => t !== undefined && nowMs - t < damper.perNodeIntervalMs)
    if (mayDamp && damping.length > 0) {
      const since = Math.max(...damping)
      const cause = flapped && since === flappedAt ? 'came back' : 'changed'
      hold(p, 'damped-node', `${cause} ${nowMs - since} ms ago (< ${damper.perNodeIntervalMs} ms)`, { retryOn: 'time', retryAtMs: since + damper.perNodeIntervalMs })
      continue
    }
    if (mayDamp && recent >= damper.clusterMaxChanges) {
      // The oldest change in the window leaving it frees one slot.
      const retryAtMs = (window[Math.max(0, window.length - damper.clusterMaxChanges)] ?? nowMs) + damper.clusterWindowMs
      hold(p, 'damped-cluster', `${recent} changes in the last ${damper.clusterWindowMs} ms`, { retryOn: 'time', retryAtMs })
      continue
    }
    if (movesVoters(p.command, shape)) {
      const joined = voterChange && ((input.joinPromotions !== false && joinPromotion(passed, p, shape)) ||
        (input.joinReplacement !== false && joinReplacement(passed, p, shape)))
      if (voterChange && !joined) { hold(p, 'one-voter-change', 'another voter change is pending', { retryOn: 'commit' }); continue }
      voterChange = true
      if (joined) { seen.add(id); recent++; continue }
    }
    for (const n of commandNodeIds(p.command)) seen.add(n)
    recent++
    passed.push(p)
  }
  return { passed, withheld }
}

/**
 * Joins the etcd promotion `p` to the etcd promotion that already passed this round, both unpinned (issue 16):
 * one `promote … with` command, so the new voters enter in ONE joint configuration change — 1 → 3 voters
 * needs the leader and one of the two new ones, and the 2-voter configuration (every commit waiting on one
 * new, possibly starved voter) never exists. The joined command gives the roles both asked for (etcd at
 * least); a role only one of them asked for is proposed again at a later round. Replaces the passed
 * proposal in `passed`; false when they cannot be joined (the voter change then waits its turn).
 */
function joinPromotion (passed: Proposal[], p: Proposal, shape: ShapeView): boolean {
  const joinable = (c: Command): c is Extract<Command, { kind: 'promote' }> => c.kind === 'promote' && c.roles.includes('etcd') && c.pin !== true
  const at = passed.findIndex((q) => movesVoters(q.command, shape))
  const first = passed[at]
  if (first === undefined || !joinable(first.command) || !joinable(p.command) || p.command.with !== undefined || first.command.replacing !== undefined) return false
  const { command } = first
  const others = command.with ?? []
  if (others.length >= MAX_ETCD_HOLDERS - 1) return false
  const roles = command.roles.filter((role) => (p.command as Extract<Command, { kind: 'promote' }>).roles.includes(role))
  const joined = [...others, p.command.nodeId].sort()
  passed[at] = { ...first, command: { ...command, roles, with: joined }, why: `${first.why}; ${p.why}` }
  return true
}

/**
 * Joins the etcd promotion `p` to the dead holder's demotion that already passed this round (issue 16): one
 * `promote <new> replacing <dead>`, so the lost voter goes out and its replacement comes in with ONE joint
 * configuration change. Separately, the promotion waits until the demotion's joint configuration is entered
 * and left, then enters and leaves its own: four commits, each waiting on the surviving voters, where the new
 * leader of a loaded cluster answers slowly (docs/bench/scale.md). Entering the joined change needs what the
 * demotion alone needs (a majority of the old voters: the survivors). Only the roles both name (etcd among
 * them), unpinned, one new node: anything else waits its turn. Replaces the demotion in `passed`; false when they
 * cannot be joined.
 */
function joinReplacement (passed: Proposal[], p: Proposal, shape: ShapeView): boolean {
  const at = passed.findIndex((q) => movesVoters(q.command, shape))
  const first = passed[at]
  if (first === undefined || first.reason !== 'replacing-failed' || first.command.kind !== 'demote' || first.command.pin === true) return false
  const promotion = p.command
  if (promotion.kind !== 'promote' || promotion.pin === true || promotion.with !== undefined || promotion.replacing !== undefined) return false
  const demoted = first.command
  // The roles both name, etcd among them: a role only one of them names (the dead node's api-server while its
  // replacement is asked for the others, or the other way round) is demoted or promoted in a later round, which
  // moves no voter. Requiring the same sets let the voter move split in two whenever the policy picked another
  // node for one of the dead node's roles (seen in test/policy/replacement-nodes.test.ts under load).
  const roles = promotion.roles.filter((role) => demoted.roles.includes(role))
  if (!roles.includes('etcd')) return false
  const priority = PRIORITIES.indexOf(p.priority) < PRIORITIES.indexOf(first.priority) ? p.priority : first.priority
  passed[at] = { ...first, command: { kind: 'promote', nodeId: promotion.nodeId, roles, replacing: demoted.nodeId }, priority, why: `${first.why}; ${p.why}` }
  return true
}

export function describe (command: Command): string {
  switch (command.kind) {
    case 'promote': return `promote ${[command.nodeId, ...(command.with ?? [])].join('+')} ${command.roles.join(',')}${command.replacing !== undefined ? ` replacing ${command.replacing}` : ''}`
    case 'demote': return `${command.kind} ${command.nodeId} ${command.roles.join(',')}`
    case 'set-target': return 'set-target'
    case 'set-catalog': return `set-catalog ${command.role}`
    case 'set-protocol': return `set-protocol ${command.level}`
    default: return `${command.kind} ${command.nodeId}`
  }
}
