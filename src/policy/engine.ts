/**
 * @module policy/engine
 * The policy engine (issue 5 item 1): runs on the Raft leader only. It ticks on a membership change
 * (debounced) and on an audit timer; each tick takes ONE snapshot of (membership view, committed shape,
 * time), evaluates the registered policies in order, filters their proposals through the safety gates,
 * proposes what passes through Raft, and records a typed decision (proposed what and why, withheld what and
 * why) in a bounded history shown by `revoada decisions`.
 */
import type { FastifyInstance } from 'fastify'
import type { NodeService, ServiceContext } from '../node/service.js'
import type { ConsensusService } from '../consensus/consensus-service.js'
import type { MembershipService } from '../membership/membership-service.js'
import type { MembershipEvent, MembershipView } from '../membership/core/index.js'
import { applyGates, autoReplacement, formation, movesVoters, DAMPER_DEFAULTS } from './core/index.js'
import type { DamperOptions, Decision, MemberInfo, Policy, Proposal, Withheld } from './core/index.js'

export interface PolicyEngineInit {
  /** @default [autoReplacement()] */
  policies?: Policy[]
  /** @default 30_000 */
  auditIntervalMs?: number
  /** @default 250 */
  debounceMs?: number
  damper?: Partial<DamperOptions>
  /** Re-evaluation delay while something is withheld only for a time (stability, damper). @default 2_000 */
  retryMs?: number
  /** @default Date.now */
  nowMs?: () => number
}

const RETRYABLE = new Set<Withheld['code']>(['unstable', 'damped-node', 'damped-cluster', 'in-flight', 'one-voter-change'])

/** Decisions kept for `revoada decisions`. */
export const MAX_DECISIONS = 200

export class PolicyEngine implements NodeService {
  readonly name = 'policy'
  private ctx!: ServiceContext
  private consensus!: ConsensusService
  private membership!: MembershipService
  private readonly policies: Policy[]
  private readonly damper: DamperOptions
  private readonly nowMs: () => number
  private auditTimer: NodeJS.Timeout | undefined
  private debounceTimer: NodeJS.Timeout | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private unsubscribe: (() => void) | undefined
  private readonly history: Decision[] = []
  private readonly aliveSinceMs = new Map<string, number>()
  private readonly lastChangeMs = new Map<string, number>()
  private readonly recentChangesMs: number[] = []
  private readonly inFlight = new Set<string>()
  private voterChangeInFlight = false
  private running = false

  constructor (private readonly init: PolicyEngineInit = {}) {
    this.init = { ...init }
    this.policies = init.policies ?? [autoReplacement()]
    this.damper = { ...DAMPER_DEFAULTS, ...init.damper }
    this.nowMs = init.nowMs ?? Date.now
  }

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    this.applyConfig(ctx.config.policy)
    const consensus = ctx.service<ConsensusService>('consensus')
    const membership = ctx.service<MembershipService>('membership')
    if (consensus === undefined || membership === undefined) throw new Error('the policy engine needs the membership and consensus services started first')
    this.consensus = consensus
    this.membership = membership
    const now = this.nowMs()
    for (const m of membership.view().members) if (m.health === 'alive') this.aliveSinceMs.set(m.nodeId, now)
    const unsubscribeView = membership.subscribe((view, events) => { this.onMembership(view, events) })
    // A committed change (a new target, an operator's promotion) is a reason to look again too.
    const unsubscribeShape = consensus.shapeMachine.onChange(() => { this.schedule('shape') })
    this.unsubscribe = () => { unsubscribeView(); unsubscribeShape() }
    this.auditTimer = setInterval(() => { this.tick('audit') }, this.init.auditIntervalMs ?? 30_000)
    this.auditTimer.unref?.()
    this.running = true
  }

  /** Config-file settings fill in what the constructor did not set. */
  private applyConfig (policy: ServiceContext['config']['policy']): void {
    if (policy === undefined) return
    if (policy.auditIntervalMs !== undefined && this.init.auditIntervalMs === undefined) this.init.auditIntervalMs = policy.auditIntervalMs
    if (policy.perNodeIntervalMs !== undefined) this.damper.perNodeIntervalMs = policy.perNodeIntervalMs
    if (policy.clusterMaxChanges !== undefined) this.damper.clusterMaxChanges = policy.clusterMaxChanges
    if (policy.clusterWindowMs !== undefined) this.damper.clusterWindowMs = policy.clusterWindowMs
    if (this.init.policies !== undefined) return
    const stabilizationMs = policy.stabilizationMs
    const chosen = policy.strategy === undefined || policy.strategy === 'auto-replacement'
      ? autoReplacement(stabilizationMs !== undefined ? { stabilizationMs } : {})
      : formation({ strategy: policy.strategy, ...(stabilizationMs !== undefined ? { stabilizationMs } : {}) })
    this.policies.splice(0, this.policies.length, chosen)
  }

  async stop (): Promise<void> {
    this.running = false
    clearInterval(this.auditTimer)
    clearTimeout(this.debounceTimer)
    clearTimeout(this.retryTimer)
    this.unsubscribe?.()
  }

  private onMembership (_view: MembershipView, events: MembershipEvent[]): void {
    for (const event of events) {
      if (event.kind === 'joined' || event.kind === 'recovered') this.aliveSinceMs.set(event.nodeId, event.atMs)
      else this.aliveSinceMs.delete(event.nodeId)
    }
    this.schedule('membership')
  }

  private schedule (trigger: Decision['trigger']): void {
    if (!this.running) return
    clearTimeout(this.debounceTimer)
    this.debounceTimer = setTimeout(() => { this.tick(trigger) }, this.init.debounceMs ?? 250)
  }

  /** One evaluation; returns its decision (also recorded). Followers record nothing and propose nothing. */
  tick (trigger: Decision['trigger']): Decision | null {
    if (!this.running || !this.consensus.node.isLeader()) return null
    const nowMs = this.nowMs()
    const view = this.memberInfos()
    const shape = this.consensus.shapeMachine.shape
    const proposals: Proposal[] = []
    const withheld: Withheld[] = []
    for (const policy of this.policies) {
      const out = policy.evaluate({ view, shape, nowMs, aliveSinceMs: this.aliveSinceMs })
      proposals.push(...out.proposals)
      withheld.push(...out.withheld)
    }
    const gated = applyGates({
      proposals, shape, view, nowMs, damper: this.damper,
      state: { lastChangeMs: this.lastChangeMs, recentChangesMs: this.recentChangesMs, inFlight: this.inFlight, voterChangeInFlight: this.voterChangeInFlight }
    })
    const decision: Decision = { atMs: nowMs, trigger, leader: true, proposals: gated.passed, withheld: [...withheld, ...gated.withheld] }
    if (decision.proposals.length > 0 || decision.withheld.length > 0) this.record(decision)
    for (const proposal of gated.passed) this.submit(proposal, movesVoters(proposal.command, shape))
    // Withheld only for now (a candidate not yet stable, a damper): look again soon, not at the next audit.
    if (gated.passed.length === 0 && decision.withheld.some((w) => RETRYABLE.has(w.code))) {
      clearTimeout(this.retryTimer)
      this.retryTimer = setTimeout(() => { this.tick('audit') }, this.init.retryMs ?? 2_000)
    }
    return decision
  }

  private submit (proposal: Proposal, voterChange: boolean): void {
    const id = 'nodeId' in proposal.command ? proposal.command.nodeId : ''
    this.inFlight.add(id)
    if (voterChange) this.voterChangeInFlight = true
    this.consensus.propose(proposal.command, proposal.reason).then((result) => {
      const outcome = result.result.outcome
      if (outcome.kind === 'applied') {
        const at = this.nowMs()
        this.lastChangeMs.set(id, at)
        this.recentChangesMs.push(at)
        while (this.recentChangesMs.length > this.damper.clusterMaxChanges * 2) this.recentChangesMs.shift()
      }
      this.ctx.log.info({ policy: proposal.policy, command: proposal.command, outcome, why: proposal.why }, 'policy proposal committed')
    }, (err: unknown) => {
      this.ctx.log.warn({ policy: proposal.policy, command: proposal.command, err: (err as Error).message }, 'policy proposal failed')
    }).finally(() => {
      this.inFlight.delete(id)
      if (voterChange) this.voterChangeInFlight = false
      // The shape moved: evaluate again soon rather than at the next audit.
      this.schedule('shape')
    })
  }

  private memberInfos (): MemberInfo[] {
    return this.membership.view().members.map((m) => ({
      nodeId: m.nodeId, health: m.health, labels: m.state.labels, capacity: m.state.capacity, uptimeMs: m.state.uptimeMs
    }))
  }

  private record (decision: Decision): void {
    this.history.push(decision)
    if (this.history.length > MAX_DECISIONS) this.history.splice(0, this.history.length - MAX_DECISIONS)
  }

  decisions (): Decision[] {
    return [...this.history]
  }

  routes (app: FastifyInstance): void {
    app.get('/v1/decisions', async () => ({ leader: this.consensus.node.isLeader(), decisions: this.decisions().slice(-50) }))
  }
}
