/**
 * @module metrics/metrics-service
 * The node's Prometheus metrics as a NodeService, started after the layers it watches. It reads their
 * state on every scrape (term, indexes, member health, content, chain), listens to what happens (leader
 * changes, applied commands, policy decisions) and times apply and fsync. Served twice:
 * - `GET /metrics` on the admin API (admin token, like every admin route);
 * - the scrape-only listener of `metrics.listen` (optional `metrics.token`), which serves nothing else.
 *
 * Layers built later (content, attestation) report through `MetricsSource.metricsReading()`: a service
 * that has that method is read on every scrape, nothing else to wire.
 */
import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import type { NodeService, ServiceContext } from '../node/service.js'
import type { ConsensusService } from '../consensus/consensus-service.js'
import type { MembershipService } from '../membership/membership-service.js'
import type { PolicyEngine } from '../policy/engine.js'
import type { Decision } from '../policy/core/index.js'
import { NodeMetrics } from './registry.js'
import type { StateReading } from './registry.js'
import { ScrapeListener } from './scrape-listener.js'
import { intervalTicker, type StopDuty } from '../util/ticker.js'

/** A service that contributes state gauges (content bytes, chain height…) read on every scrape. */
export interface MetricsSource {
  metricsReading: () => Partial<StateReading>
}

/** Services read through `MetricsSource` when present (layers C and D). */
export const METRICS_SOURCE_SERVICES = ['content', 'chain'] as const
/** How often new policy decisions are counted (they live in a bounded history). */
const DECISION_SYNC_INTERVAL_MS = 1000

function isMetricsSource (service: unknown): service is MetricsSource {
  return typeof (service as Partial<MetricsSource> | undefined)?.metricsReading === 'function'
}

export class MetricsService implements NodeService {
  readonly name = 'metrics'
  private ctx!: ServiceContext
  private listener: ScrapeListener | undefined
  private readonly unsubscribers: Array<() => void> = []
  private readonly countedDecisions = new WeakSet<Decision>()
  private stopDecisionTimer: StopDuty | undefined

  /** @param metrics shared with the storage wrapper (node/services.ts) so fsync lands in the same registry */
  constructor (readonly metrics: NodeMetrics = new NodeMetrics()) {}

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    const consensus = ctx.service<ConsensusService>('consensus')
    const membership = ctx.service<MembershipService>('membership')
    const policy = ctx.service<PolicyEngine>('policy')
    if (consensus !== undefined) this.watchConsensus(consensus)
    if (policy !== undefined) {
      // The history is read back from the data dir on start: its records were counted by the runs that made
      // them, and counting them here made every restart look like a burst of up to MAX_DECISIONS decisions.
      for (const decision of policy.decisions()) this.countedDecisions.add(decision)
      this.stopDecisionTimer = (ctx.ticker ?? intervalTicker).every(DECISION_SYNC_INTERVAL_MS, () => { this.countDecisions(policy) })
    }
    this.metrics.readState(() => {
      if (policy !== undefined) this.countDecisions(policy)
      return this.reading(consensus, membership)
    })
    const settings = ctx.config.metrics
    if (settings?.listen !== undefined) {
      const { host, port } = parseListen(settings.listen)
      this.listener = new ScrapeListener({ host, port, token: settings.token, metrics: this.metrics, log: ctx.log })
      await this.listener.listen()
    }
  }

  async stop (): Promise<void> {
    this.stopDecisionTimer?.()
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe()
    await this.listener?.close()
  }

  /** The scrape listener's URL, when one is configured. */
  get scrapeUrl (): string | undefined {
    return this.listener?.url
  }

  /** `metrics: { scrapeUrl }` in `GET /v1/status`. */
  status (): Record<string, unknown> {
    return { scrapeUrl: this.listener?.url ?? null }
  }

  private watchConsensus (consensus: ConsensusService): void {
    const raft = consensus.node
    let leader = raft.status().leader
    this.unsubscribers.push(raft.onStateChange((status) => {
      if (status.leader !== null && status.leader !== leader) this.metrics.leaderChanges.inc()
      leader = status.leader
    }))
    this.unsubscribers.push(raft.onApplied(({ result }) => {
      // A batch envelope's entry counts each of its commands (docs/CONSENSUS.md, batches).
      for (const each of result.outcomes ?? [result.outcome]) {
        this.metrics.countLabelled(this.metrics.shapeCommands, 'outcome', each.kind === 'applied' ? 'applied' : `rejected:${each.code}`)
      }
    }))
    // NB: the apply and propose timings wrap the instances' methods rather than adding hooks to the
    // consensus layer: the wrappers see every call the driver and the API make, and are removed on stop.
    const machine = consensus.shapeMachine
    const apply = machine.apply
    machine.apply = (command, context) => {
      const startMs = performance.now()
      try {
        return apply.call(machine, command, context)
      } finally {
        this.metrics.applyDuration.observe((performance.now() - startMs) / 1000)
      }
    }
    const propose = consensus.propose
    // Every argument passes through: the batcher's options carry a resubmitted command's first deadline.
    consensus.propose = async (command, reason, options) => {
      try {
        return await propose.call(consensus, command, reason, options)
      } catch (err) {
        this.metrics.proposalsFailed.inc()
        throw err
      }
    }
    this.unsubscribers.push(() => { machine.apply = apply; consensus.propose = propose })
  }

  /** Counts decisions recorded since the last look (the history is bounded, so this runs every second). */
  private countDecisions (policy: PolicyEngine): void {
    for (const decision of policy.decisions()) {
      if (this.countedDecisions.has(decision)) continue
      this.countedDecisions.add(decision)
      for (const p of decision.proposals) this.metrics.countLabelled(this.metrics.policyDecisions, 'kind', `proposed:${p.command.kind}`)
      for (const w of decision.withheld) this.metrics.countLabelled(this.metrics.policyDecisions, 'kind', `withheld:${w.code}`)
    }
  }

  private reading (consensus: ConsensusService | undefined, membership: MembershipService | undefined): StateReading {
    const reading: StateReading = {}
    if (consensus?.started === true) {
      const status = consensus.node.status()
      const elections = consensus.node.electionCounters()
      Object.assign(reading, {
        term: status.term, hasLeader: status.leader !== null, isLeader: status.role === 'leader',
        commitIndex: status.commit, appliedIndex: consensus.node.appliedIndex(),
        campaigns: elections.campaigns, stepDowns: elections.stepDowns, stalls: elections.stalls
      })
    }
    if (membership !== undefined) {
      const members: Record<string, number> = {}
      for (const m of membership.view().members) members[m.health] = (members[m.health] ?? 0) + 1
      reading.members = members
      reading.votersReconnected = membership.counters().votersReconnected
    }
    const streams = this.ctx.gossipStreams?.()
    if (streams !== undefined) Object.assign(reading, { gossipStreamsReopened: streams.reopened, gossipStreamsOpenedLate: streams.openedLate })
    const links = this.ctx.links?.()
    if (links !== undefined) Object.assign(reading, { linkPings: links.pinged, linkAborts: links.aborted })
    for (const name of METRICS_SOURCE_SERVICES) {
      const source = this.ctx.service(name)
      if (isMetricsSource(source)) Object.assign(reading, source.metricsReading())
    }
    return reading
  }

  routes (app: FastifyInstance): void {
    app.get('/metrics', async (_request, reply) => {
      const body = await this.metrics.exposition()
      return await reply.header('content-type', this.metrics.contentType).send(body)
    })
  }
}

/** `host:port` or `[v6]:port` of `metrics.listen` (already validated by the config schema). */
export function parseListen (listen: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen)
  return { host: m?.[1] ?? m?.[2] ?? '127.0.0.1', port: Number(m?.[3] ?? 0) }
}
