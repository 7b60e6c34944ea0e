/**
 * @module policy/engine
 * The policy engine (issue 5 item 1, issue 12): runs on the Raft leader only. It ticks on a membership
 * change (debounced), on a committed shape change, on an audit timer and when something withheld for a
 * time may pass; each tick takes ONE snapshot of (membership view, committed shape, time), evaluates the
 * registered policies, filters their proposals through the safety gates (most urgent first: voters, lost
 * singleton roles, other roles, scale-downs), proposes what passes through Raft, and records a typed
 * decision (proposed what and why; withheld what, by which gate, for which node, until when).
 *
 * Every node runs the parts that are not leader-only: it tracks flaps (a member back from
 * suspect/dead/left) and role gains (from committed shape changes), so a newly elected leader decides with
 * the same history; it keeps the decision log (its own records and the leader's, heard by gossip); and it
 * checks an operator's promote/demote against the target before it is proposed (`intentConflict`).
 */
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { NodeService, ServiceContext } from '../node/service.js'
import type { ConsensusService } from '../consensus/consensus-service.js'
import type { MembershipService } from '../membership/membership-service.js'
import type { MembershipEvent, MembershipView } from '../membership/core/index.js'
import { commandNodeIds, CONTROL_PLANE_ROLES, PROTOCOL_JOINED_PROMOTION, PROTOCOL_REPLACEMENT } from '../consensus/shape/core/index.js'
import type { Command, MeshShape } from '../consensus/shape/core/index.js'
import {
  applyGates, autoReplacement, formation, prunedLastChange, unlistedMembers, movesVoters, intentConflict, toDecisionRecord, decisionContent,
  prunedRejections, rejectionInputs, rejectionKeys, withRejection, withoutRejection,
  DAMPER_DEFAULTS, FLAPPED_RECENTLY_MS, JUST_PROMOTED_MS, NEW_LEADER_SETTLE_MS, NEW_LEADER_SETTLE_POLL_MS, RETRY_DELAY_MS_MAX, RETRY_DELAY_MS_MIN, UNLISTED_DEAD_MS
} from './core/index.js'
import type { DamperOptions, Decision, DecisionRecord, IntentConflict, MemberInfo, Policy, Proposal, Rejections, ShapeView, Unlisted, Withheld } from './core/index.js'
import { DecisionLog } from './decision-log.js'
import { DecisionGossip } from './decision-gossip.js'
import { registerPolicyRoutes } from './routes.js'
import { ContradictsTargetError } from './errors.js'
import { DECISION_FILE_NAME, MAX_DECISIONS } from './constants.js'
import { intervalTicker, type StopDuty } from '../util/ticker.js'
import { steadyNowMs } from '../util/clock.js'

export { MAX_DECISIONS }

/** Membership events and committed changes are gathered this long before an evaluation. */
const DEBOUNCE_MS_DEFAULT = 250

/** Whether `events` declare a holder of a control-plane role in `shape` dead or gone (left). */
export function lostHolder (events: readonly MembershipEvent[], shape: Pick<MeshShape, 'holds'>): boolean {
  return events.some((e) => (e.kind === 'dead' || e.kind === 'left') && CONTROL_PLANE_ROLES.some((role) => shape.holds(e.nodeId, role)))
}

export interface PolicyEngineInit {
  /** @default [autoReplacement()] */
  policies?: Policy[]
  /** @default 30_000 */
  auditIntervalMs?: number
  /** @default 250 */
  debounceMs?: number
  damper?: Partial<DamperOptions>
  /** How long a shape member the leader's view never lists is missed before it counts as dead (config `policy.unlistedDeadMs` wins). @default UNLISTED_DEAD_MS */
  unlistedDeadMs?: number
  /**
   * The clock of the dampers, flap and stability windows and the new leader's settle wait. Steady, as
   * membership's (whose event times, `atMs`, it compares with its own): a wall-clock step neither releases a
   * damper early nor holds a reaction back for its size. @default steadyNowMs
   */
  nowMs?: () => number
}

/** rejectionInputs of each (command kind, node) `proposal` changes, keyed as the backoffs are. */
function inputsOf (proposal: Proposal, snapshot: { shape: ShapeView, view: readonly MemberInfo[] }): Map<string, string> {
  return new Map(rejectionKeys(proposal.command).map(({ key, nodeId }) => [key, rejectionInputs(nodeId, snapshot)]))
}

export class PolicyEngine implements NodeService {
  readonly name = 'policy'
  private ctx!: ServiceContext
  private consensus!: ConsensusService
  private membership!: MembershipService
  private readonly policies: Policy[]
  private readonly damper: DamperOptions
  private readonly nowMs: () => number
  private unlistedDeadMs: number
  private stopAudit: StopDuty | undefined
  /** The next evaluation: when it is due (performance.now()) and its timer. */
  private pending: { dueMs: number, timer: NodeJS.Timeout } | undefined
  private retryTimer: NodeJS.Timeout | undefined
  /** When this node last began leading (a new leader waits briefly for its first learner's answer). */
  private leadingSinceMs: number | undefined
  private unsubscribe: (() => void) | undefined
  private decisionLog!: DecisionLog
  private gossip!: DecisionGossip
  private readonly aliveSinceMs = new Map<string, number>()
  private readonly flappedAtMs = new Map<string, number>()
  /** Members last declared dead or left (a recovery of one is a flap) and the generation of each one's latest event. */
  private readonly gone = new Map<string, 'dead' | 'left'>()
  /** Members membership removed while dead or left, with that verdict: the policy still sees them gone (unlistedMembers). */
  private readonly removedGone = new Map<string, 'dead' | 'left'>()
  /** On the leader, when each shape member its view does not list was first missed in this leadership. */
  private unlistedSinceMs = new Map<string, number>()
  /** The unlisted members already said to count as dead (one log line each). */
  private readonly unlistedDead = new Set<string>()
  private readonly generations = new Map<string, number>()
  /** `nodeId role` → when the node gained the role (only gains within JUST_PROMOTED_MS are kept). */
  private readonly gainedAtMs = new Map<string, number>()
  /** Node → when the policy last changed it (the per-node damper); pruned at every evaluation (prunedLastChange). */
  private lastChangeMs = new Map<string, number>()
  private readonly recentChangesMs: number[] = []
  /** `kind node` → its backoff after a rejection at apply; pruned at every evaluation (prunedRejections). */
  private rejections: Rejections = new Map()
  private readonly inFlight = new Set<string>()
  private voterChangeInFlight = false
  private previousShape: MeshShape | undefined
  /** The commit index known when the engine started: applying entries up to it is a replay. */
  private replayedUpToIndex = 0
  private recordSeq = 0
  private lastContent = ''
  private running = false

  constructor (private readonly init: PolicyEngineInit = {}) {
    this.init = { ...init }
    this.policies = init.policies ?? [autoReplacement()]
    this.damper = { ...DAMPER_DEFAULTS, ...init.damper }
    this.nowMs = init.nowMs ?? steadyNowMs
    this.unlistedDeadMs = init.unlistedDeadMs ?? UNLISTED_DEAD_MS
  }

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    this.applyConfig(ctx.config.policy)
    const consensus = ctx.service<ConsensusService>('consensus')
    const membership = ctx.service<MembershipService>('membership')
    if (consensus === undefined || membership === undefined) throw new Error('the policy engine needs the membership and consensus services started first')
    this.consensus = consensus
    this.membership = membership
    this.decisionLog = new DecisionLog(path.join(ctx.config.dataDir, DECISION_FILE_NAME), ctx.log)
    this.decisionLog.load()
    this.gossip = new DecisionGossip(ctx, {
      isMember: (id) => consensus.shapeMachine.shape.has(id),
      onRecord: (record) => { this.decisionLog.add(record) },
      nowMs: this.nowMs
    })
    this.gossip.start()
    const now = this.nowMs()
    for (const m of membership.view().members) if (m.health === 'alive') this.aliveSinceMs.set(m.nodeId, now)
    const unsubscribeView = membership.subscribe((view, events) => { this.onMembership(view, events) })
    this.previousShape = consensus.shapeMachine.shape
    this.replayedUpToIndex = consensus.node.status().commit
    // A committed change (a new target, an operator's promotion) is a reason to look again too.
    const unsubscribeShape = consensus.shapeMachine.onChange((shape, result) => { this.onShape(shape, result.index); this.schedule('shape') })
    // A node that starts leading looks at once: a loss its membership saw before it led (a dead leader found
    // before the election ended) has no event left to wake the engine, and the audit may be 30 s away.
    let leading = consensus.node.isLeader()
    const unsubscribeRole = consensus.node.onStateChange((status) => {
      const leads = status.role === 'leader'
      if (leads && !leading) {
        this.leadingSinceMs = this.nowMs()
        // A member missed while following may be one this node only now hears of: the grace starts again.
        this.unlistedSinceMs = new Map()
        // Other leaders may have recorded since this node's last record: its first decision here is news.
        this.lastContent = ''
        this.schedule('audit', 0)
      }
      leading = leads
    })
    this.unsubscribe = () => { unsubscribeView(); unsubscribeShape(); unsubscribeRole() }
    consensus.operatorGuard = (command) => {
      const conflict = this.intentConflict(command)
      return conflict === null ? null : new ContradictsTargetError(conflict.message)
    }
    this.stopAudit = (ctx.ticker ?? intervalTicker).every(this.init.auditIntervalMs ?? 30_000, () => { this.tick('audit') })
    this.running = true
  }

  /** Config-file settings fill in what the constructor did not set. */
  private applyConfig (policy: ServiceContext['config']['policy']): void {
    if (policy === undefined) return
    if (policy.auditIntervalMs !== undefined && this.init.auditIntervalMs === undefined) this.init.auditIntervalMs = policy.auditIntervalMs
    if (policy.perNodeIntervalMs !== undefined) this.damper.perNodeIntervalMs = policy.perNodeIntervalMs
    if (policy.clusterMaxChanges !== undefined) this.damper.clusterMaxChanges = policy.clusterMaxChanges
    if (policy.clusterWindowMs !== undefined) this.damper.clusterWindowMs = policy.clusterWindowMs
    if (policy.unlistedDeadMs !== undefined) this.unlistedDeadMs = policy.unlistedDeadMs
    if (this.init.policies !== undefined) return
    const stabilizationMs = policy.stabilizationMs
    const chosen = policy.strategy === undefined || policy.strategy === 'auto-replacement'
      ? autoReplacement(stabilizationMs !== undefined ? { stabilizationMs } : {})
      : formation({ strategy: policy.strategy, ...(stabilizationMs !== undefined ? { stabilizationMs } : {}) })
    this.policies.splice(0, this.policies.length, chosen)
  }

  async stop (): Promise<void> {
    this.running = false
    this.stopAudit?.()
    clearTimeout(this.pending?.timer)
    this.pending = undefined
    clearTimeout(this.retryTimer)
    this.unsubscribe?.()
    if (this.consensus !== undefined) this.consensus.operatorGuard = undefined
    this.gossip?.stop()
    this.decisionLog?.close()
  }

  private onMembership (_view: MembershipView, events: MembershipEvent[]): void {
    for (const event of events) {
      if (event.kind === 'joined' || event.kind === 'recovered') this.aliveSinceMs.set(event.nodeId, event.atMs)
      else this.aliveSinceMs.delete(event.nodeId)
      // A flap: back after being declared dead or gone, or restarted (a higher generation). Suspicion that
      // clears is not one — on a loaded machine heartbeats run late, and suspicion alone never moves a role.
      const known = this.generations.get(event.nodeId)
      const restarted = known !== undefined && event.generation > known
      if ((event.kind === 'recovered' && this.gone.has(event.nodeId)) || ((event.kind === 'joined' || event.kind === 'recovered') && restarted)) {
        this.flappedAtMs.set(event.nodeId, event.atMs)
      }
      const verdict = this.gone.get(event.nodeId)
      // Only a shape member's verdict is read (unlistedMembers): one per made-up identity a key holder's heartbeats
      // named stayed for good on a follower, which never evaluates (the only place they were pruned).
      if (event.kind === 'removed' && verdict !== undefined && this.consensus.shapeMachine.shape.has(event.nodeId)) this.removedGone.set(event.nodeId, verdict)
      else if (event.kind === 'joined' || event.kind === 'recovered') this.removedGone.delete(event.nodeId)
      if (event.kind === 'dead' || event.kind === 'left') this.gone.set(event.nodeId, event.kind)
      else if (event.kind !== 'suspect') this.gone.delete(event.nodeId)
      // The latest event's generation, not the highest seen: membership's own events never go down, but a
      // generation planted by an unchecked digest (a joiner's) does, once the member's heartbeats replace it;
      // kept as a maximum, it hid every later restart of that member until it was removed.
      if (event.kind === 'removed') this.generations.delete(event.nodeId)
      else this.generations.set(event.nodeId, event.generation)
    }
    const horizon = this.nowMs() - Math.max(FLAPPED_RECENTLY_MS, this.damper.perNodeIntervalMs)
    for (const [id, at] of this.flappedAtMs) if (at < horizon) this.flappedAtMs.delete(id)
    // A role holder declared dead or gone is acted on at once: the debounce gathers bursts of joins and
    // suspicions, and a lost voter's replacement should not wait for it.
    this.schedule('membership', lostHolder(events, this.consensus.shapeMachine.shape) ? 0 : undefined)
  }

  /**
   * Records role gains (on every node, so a new leader knows who was just promoted). Entries replayed
   * from the log on start (up to and including the commit index the node already knew) are old news, not gains.
   */
  private onShape (shape: MeshShape, index: number): void {
    const now = this.nowMs()
    const before = this.previousShape
    this.previousShape = shape
    // A verdict is read only for a shape member (unlistedMembers): it goes with the member.
    for (const id of this.removedGone.keys()) if (!shape.has(id)) this.removedGone.delete(id)
    if (index <= this.replayedUpToIndex) return
    for (const id of shape.memberIds()) {
      for (const role of CONTROL_PLANE_ROLES) {
        if (shape.holds(id, role) && before?.holds(id, role) !== true) this.gainedAtMs.set(`${id} ${role}`, now)
      }
    }
    for (const [key, at] of this.gainedAtMs) if (now - at >= JUST_PROMOTED_MS) this.gainedAtMs.delete(key)
  }

  /**
   * The next evaluation, after the debounce unless `delayMs` says otherwise. An evaluation already due
   * sooner stays (it reads the committed shape and the view as they are then, this change included): a
   * later call never puts it off. Each call used to restart the wait, so while entries applied less than a
   * debounce apart — a client writing a few times a second, or the retries a leader change leaves — nothing
   * was evaluated, not even a lost voter's replacement, until the writes paused or the audit came (issue 16).
   */
  private schedule (trigger: Decision['trigger'], delayMs = this.init.debounceMs ?? DEBOUNCE_MS_DEFAULT): void {
    if (!this.running) return
    const dueMs = performance.now() + delayMs
    if (this.pending !== undefined && this.pending.dueMs <= dueMs) return
    clearTimeout(this.pending?.timer)
    this.pending = { dueMs, timer: setTimeout(() => { this.pending = undefined; this.tick(trigger) }, delayMs) }
  }

  /** One evaluation; returns its decision (also recorded). Followers record nothing and propose nothing. */
  tick (trigger: Decision['trigger']): Decision | null {
    if (!this.running || !this.consensus.node.isLeader()) return null
    // A new leader may hold its predecessor's last entries and learn they are committed only with an entry of
    // its own term: until it has applied them, its shape may lack them (a replacement already committed would
    // be proposed again, beside it). Nothing else wakes the engine when it applies, so look again shortly.
    if (!this.consensus.node.priorTermsApplied()) {
      this.schedule(trigger, NEW_LEADER_SETTLE_POLL_MS)
      return null
    }
    const nowMs = this.nowMs()
    const settleMs = trigger === 'manual' ? 0 : this.settlingMs(nowMs)
    if (settleMs > 0) { this.schedule(trigger, settleMs); return null }
    const shape = this.consensus.shapeMachine.shape
    const view = this.memberInfos()
    const unlisted = unlistedMembers({
      memberIds: shape.memberIds(), listed: new Set(view.map((m) => m.nodeId)), removedGone: this.removedGone,
      sinceMs: this.unlistedSinceMs, nowMs, graceMs: this.unlistedDeadMs
    })
    this.noteUnlisted(unlisted, nowMs)
    view.push(...unlisted.gone)
    const caughtUp = this.consensus.caughtUpMembers()
    // Without it the map kept one entry per node id the policy ever changed, long gone ones included.
    this.lastChangeMs = prunedLastChange(this.lastChangeMs, { shape, nowMs, damper: this.damper })
    // A backoff whose inputs changed ends here: the state machine may judge the command otherwise now.
    this.rejections = prunedRejections(this.rejections, { shape, view })
    const proposals: Proposal[] = []
    const withheld: Withheld[] = []
    for (const policy of this.policies) {
      const out = policy.evaluate({
        view, shape, nowMs, aliveSinceMs: this.aliveSinceMs, flappedAtMs: this.flappedAtMs, gainedAtMs: this.gainedAtMs, leaderId: this.ctx.nodeId,
        ...(caughtUp !== undefined ? { caughtUp } : {})
      })
      proposals.push(...out.proposals)
      withheld.push(...out.withheld)
    }
    const gated = applyGates({
      proposals, shape, view, nowMs, damper: this.damper, flappedAtMs: this.flappedAtMs,
      // `with` only once every node knows it (the cluster's protocol level; rolling upgrades).
      joinPromotions: shape.protocol >= PROTOCOL_JOINED_PROMOTION,
      joinReplacement: shape.protocol >= PROTOCOL_REPLACEMENT,
      rejections: this.rejections,
      state: { lastChangeMs: this.lastChangeMs, recentChangesMs: this.recentChangesMs, inFlight: this.inFlight, voterChangeInFlight: this.voterChangeInFlight }
    })
    const decision: Decision = { atMs: nowMs, trigger, leader: true, proposals: gated.passed, withheld: [...withheld, ...gated.withheld] }
    this.record(decision)
    for (const proposal of gated.passed) this.submit(proposal, { voterChange: movesVoters(proposal.command, shape), inputs: inputsOf(proposal, { shape, view }) })
    this.scheduleRetry(decision.withheld, nowMs)
    return decision
  }

  /**
   * How long a new leader should still wait before it evaluates (0: evaluate now): while it leads for less
   * than NEW_LEADER_SETTLE_MS and no learner that membership sees alive has answered it yet. A learner's log
   * is unknown until it answers, so a dead voter's replacement would be withheld as lagging and the voter
   * demoted alone. One answer is enough: the first learners to answer are the candidates (at 50 nodes on 2
   * cores the last of 47 answered up to 1.5 s after the election, and a responsive node is the better voter).
   */
  private settlingMs (nowMs: number): number {
    const since = this.leadingSinceMs
    if (since === undefined || nowMs - since >= NEW_LEADER_SETTLE_MS) return 0
    const unheard = this.consensus.unheardPeers()
    if (unheard === undefined || unheard.size === 0) return 0
    const learners = new Set(this.consensus.node.configuration().learners)
    const live = this.membership.view().members.filter((m) => m.health === 'alive' && learners.has(m.nodeId))
    const waiting = live.length > 0 && live.every((m) => unheard.has(m.nodeId))
    return waiting ? Math.min(NEW_LEADER_SETTLE_POLL_MS, since + NEW_LEADER_SETTLE_MS - nowMs) : 0
  }

  /** Withheld until a time: look again then (bounded), not at the next audit. */
  private scheduleRetry (withheld: readonly Withheld[], nowMs: number): void {
    const times = withheld.filter((w) => w.retryOn === 'time' && w.retryAtMs !== undefined).map((w) => w.retryAtMs as number)
    if (times.length === 0) return
    const delay = Math.min(RETRY_DELAY_MS_MAX, Math.max(RETRY_DELAY_MS_MIN, Math.min(...times) - nowMs))
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => { this.tick('audit') }, delay)
  }

  /**
   * Proposes `proposal` leader-only and settles its marks when it is decided. `inputs` (rejectionInputs of each node
   * it changes, from the snapshot it was decided from) start or extend a backoff if the state machine rejects it.
   */
  private submit (proposal: Proposal, { voterChange, inputs }: { voterChange: boolean, inputs: ReadonlyMap<string, string> }): void {
    // A joined promotion (`with`) changes every node it names: each is in flight, and each counts for the dampers.
    const ids = commandNodeIds(proposal.command)
    for (const id of ids) this.inFlight.add(id)
    if (voterChange) this.voterChangeInFlight = true
    this.ctx.log.info({ policy: proposal.policy, command: proposal.command, why: proposal.why }, 'policy proposes')
    let appliedVoterChange = false
    // Leader-only: decided from this leader's snapshot, it must not be forwarded to a successor once this node
    // follows (the driver re-submits a lost proposal for up to its operation timeout), where it applied beside
    // the successor's own decision — a duplicate, then a scale-down. Ruled out by the committed log, it fails
    // with ProposalLostError and the successor decides alone.
    this.consensus.propose(proposal.command, proposal.reason, { leaderOnly: true }).then((result) => {
      const outcome = result.result.outcome
      if (outcome.kind === 'applied') {
        appliedVoterChange = voterChange
        const at = this.nowMs()
        for (const id of ids) {
          this.lastChangeMs.set(id, at)
          this.recentChangesMs.push(at)
        }
        while (this.recentChangesMs.length > this.damper.clusterMaxChanges * 2) this.recentChangesMs.shift()
        this.rejections = withoutRejection(this.rejections, proposal.command)
      } else {
        // The shape is as it was: from the same inputs the policy proposes the same again, so wait before it goes.
        this.rejections = withRejection(this.rejections, { command: proposal.command, inputs, code: outcome.code, nowMs: this.nowMs() })
        const backoff = rejectionKeys(proposal.command).map(({ key }) => this.rejections.get(key)).find((r) => r !== undefined)
        this.ctx.log.warn({ policy: proposal.policy, command: proposal.command, code: outcome.code, rejections: backoff?.count, retryAtMs: backoff?.retryAtMs },
          'policy proposal rejected at apply: backing off')
      }
      this.ctx.log.info({ policy: proposal.policy, command: proposal.command, outcome, why: proposal.why }, 'policy proposal committed')
    }, (err: unknown) => {
      this.ctx.log.warn({ policy: proposal.policy, command: proposal.command, err: (err as Error).message }, 'policy proposal failed')
    }).finally(() => {
      for (const id of ids) this.inFlight.delete(id)
      if (voterChange) this.voterChangeInFlight = false
      // The shape moved: evaluate again soon rather than at the next audit — at once after an applied voter
      // change, whose follow-up (the promotion that replaces a demoted voter) waited for it (one at a time).
      this.schedule('shape', appliedVoterChange ? 0 : undefined)
    })
  }

  /**
   * Keeps the unlisted members' clocks, says once when one starts to count as dead, and looks again when the
   * next one is due (nothing else would wake the engine then). Verdicts of removed members are forgotten with
   * the member (out of the shape).
   */
  private noteUnlisted (unlisted: Unlisted, nowMs: number): void {
    for (const m of unlisted.gone) {
      const since = unlisted.sinceMs.get(m.nodeId)
      if (since !== undefined && nowMs - since >= this.unlistedDeadMs && !this.unlistedDead.has(m.nodeId)) {
        this.unlistedDead.add(m.nodeId)
        this.ctx.log.warn({ node: m.nodeId, missedForMs: nowMs - since }, 'policy counts a member its membership view has never listed as dead')
      }
    }
    for (const id of this.unlistedDead) if (!unlisted.sinceMs.has(id)) this.unlistedDead.delete(id)
    const shape = this.consensus.shapeMachine.shape
    for (const id of this.removedGone.keys()) if (!shape.has(id)) this.removedGone.delete(id)
    this.unlistedSinceMs = unlisted.sinceMs
    if (unlisted.nextDueMs !== undefined) this.schedule('audit', unlisted.nextDueMs - nowMs)
  }

  private memberInfos (): MemberInfo[] {
    return this.membership.view().members.map((m) => ({
      nodeId: m.nodeId, health: m.health, labels: m.state.labels, capacity: m.state.capacity, uptimeMs: m.state.uptimeMs
    }))
  }

  /**
   * Logs a decision that says something new (the same content as this leader's previous record — a
   * retry still withheld for the same reason — is not logged again) and gossips it to every node.
   */
  private record (decision: Decision): void {
    if (decision.proposals.length === 0 && decision.withheld.length === 0) { this.lastContent = ''; return }
    const content = decisionContent(decision)
    if (content === this.lastContent) return
    this.lastContent = content
    for (const w of decision.withheld) this.ctx.log.info({ gate: w.code, node: w.nodeId, retryOn: w.retryOn, retryAtMs: w.retryAtMs, why: w.why }, `policy withheld ${w.what}`)
    const record = toDecisionRecord(decision, { by: this.ctx.nodeId, term: this.consensus.node.status().term, seq: ++this.recordSeq })
    this.decisionLog.add(record)
    void this.gossip.publish(record)
  }

  /**
   * What would happen if the operator's `command` were committed, when the policies would act against it
   * (issue 12 item 2); null when it agrees with the target. Runs on any node, on its own view and shape.
   */
  intentConflict (command: Command): IntentConflict | null {
    return intentConflict({
      command, policies: this.policies, shape: this.consensus.shapeMachine.shape, view: this.memberInfos(), nowMs: this.nowMs(),
      // Everyone counts as stable here: the question is what the policy wants, not when it may act.
      aliveSinceMs: new Map(this.memberInfos().map((m) => [m.nodeId, 0])), flappedAtMs: this.flappedAtMs, gainedAtMs: this.gainedAtMs,
      leaderId: this.consensus.node.status().leader ?? this.ctx.nodeId
    })
  }

  /** The node's decision log (every node has one: its own records and the leaders' it heard). */
  get log (): DecisionLog {
    return this.decisionLog
  }

  /** The records this node made itself (as leader), oldest first. */
  decisions (): DecisionRecord[] {
    return this.decisionLog.last(MAX_DECISIONS).filter((r) => r.by === this.ctx.nodeId)
  }

  get nodeId (): string {
    return this.ctx.nodeId
  }

  get isLeader (): boolean {
    return this.consensus.node.isLeader()
  }

  status (): Record<string, unknown> {
    return { decisions: this.decisionLog.lastN, rejectedBackoffs: this.rejections.size, published: this.gossip.published, damperNodes: this.lastChangeMs.size, removedVerdicts: this.removedGone.size, ...Object.fromEntries([...this.gossip.drops].map(([reason, n]) => [`dropped.${reason}`, n])) }
  }

  routes (app: FastifyInstance): void {
    registerPolicyRoutes(app, this)
  }
}
