/**
 * @module dashboard/dashboard-service
 * The live dashboard as a NodeService: the page at `/dashboard` and its state stream at `/v1/events`.
 * Both sit behind the admin API's auth: the bearer token, or the session cookie that `revoada dashboard`'s
 * one-time login link sets (api/sessions.ts), which opens the page, its script and its stream only
 * (SESSION_ROUTE); `/v1/dashboard/state`, which the page does not load, needs the token. Started after the
 * layers it shows.
 */
import type { FastifyInstance } from 'fastify'
import { SESSION_ROUTE } from '../api/index.js'
import type { NodeService, ServiceContext } from '../node/service.js'
import type { ConsensusService } from '../consensus/consensus-service.js'
import type { ElectionLine } from '../consensus/raft-node.js'
import type { MembershipService } from '../membership/membership-service.js'
import type { PolicyEngine } from '../policy/engine.js'
import { buildState, rolesOfMembers } from './model.js'
import { MeshShape } from '../consensus/shape/core/index.js'
import type { DashboardState } from './model.js'
import { Timeline, diffRoles, electionText } from './timeline.js'
import { EventStream } from './event-stream.js'
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './page.js'

/**
 * Scripts and connections from the node itself only; the page's one style block is inline. No inline script
 * or handler runs (`onerror=` in a peer's string stays inert even if it ever reached the DOM as markup), no
 * `<base>` can redirect the script's URL, no form posts anywhere, and no page may frame this one.
 */
const PAGE_CSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export interface DashboardServiceInit {
  /** @default Date.now */
  nowMs?: () => number
  /** A monotonic clock, for how often refused event streams are logged. @default steadyNowMs */
  monotonicMs?: () => number
}

/** A later layer's status, if that service runs and has one. */
function statusOf (ctx: ServiceContext, name: string): (() => Record<string, unknown>) | undefined {
  const service = ctx.service(name)
  return service?.status !== undefined ? () => service.status?.() ?? {} : undefined
}

export class DashboardService implements NodeService {
  readonly name = 'dashboard'
  private ctx!: ServiceContext
  private readonly timeline = new Timeline()
  private readonly stream: EventStream
  private readonly unsubscribers: Array<() => void> = []
  private readonly nowMs: () => number

  constructor (init: DashboardServiceInit = {}) {
    this.nowMs = init.nowMs ?? Date.now
    this.stream = new EventStream(() => JSON.stringify(this.state()), init.monotonicMs)
  }

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    const membership = ctx.service<MembershipService>('membership')
    const consensus = ctx.service<ConsensusService>('consensus')
    if (membership !== undefined) {
      for (const e of membership.recentEvents()) this.timeline.add(e.atMs, 'membership', e.nodeId, e.kind)
      this.unsubscribers.push(membership.subscribe((_view, events) => {
        for (const e of events) this.timeline.add(e.atMs, 'membership', e.nodeId, e.kind)
        this.stream.poke()
      }))
    }
    if (consensus !== undefined) this.watchConsensus(consensus)
    this.stream.start(ctx.log)
  }

  private watchConsensus (consensus: ConsensusService): void {
    let leader = consensus.node.status().leader
    // This node's own election lines (why it campaigned, stepped down or stalled), those logged before too.
    const addLine = (line: ElectionLine): void => { this.timeline.add(line.atMs, 'election', this.ctx.nodeId, electionText(line.kind, line.fields)) }
    for (const line of consensus.node.recentElectionLines()) addLine(line)
    this.unsubscribers.push(consensus.node.onElectionLine((line) => { addLine(line); this.stream.poke() }))
    this.unsubscribers.push(consensus.node.onStateChange((status) => {
      if (status.leader !== null && status.leader !== leader) this.timeline.add(this.nowMs(), 'leader', status.leader, `became leader at term ${status.term}`)
      leader = status.leader
      this.stream.poke()
    }))
    // Role moves are diffed over the members that moved only: the shape changes with nearly every applied
    // entry, and rebuilding every member's roles each time was a third of this node's apply garbage (issue 16).
    let shown = consensus.started ? consensus.shapeMachine.shape : MeshShape.empty()
    this.unsubscribers.push(consensus.shapeMachine.onChange((next) => {
      const moved = next.movedSince(shown)
      if (moved.length > 0) {
        for (const line of diffRoles(rolesOfMembers(shown, moved), rolesOfMembers(next, moved))) this.timeline.add(this.nowMs(), 'roles', line.nodeId, line.text)
      }
      shown = next
      this.stream.poke()
    }))
  }

  async stop (): Promise<void> {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe()
    this.stream.close()
  }

  /** The state the page shows (also what `/v1/events` streams). */
  state (): DashboardState {
    return buildState({
      nowMs: this.nowMs(),
      self: this.ctx.nodeId,
      clusterId: this.ctx.cluster.clusterId,
      consensus: this.ctx.service<ConsensusService>('consensus'),
      membership: this.ctx.service<MembershipService>('membership'),
      policy: this.ctx.service<PolicyEngine>('policy'),
      chain: statusOf(this.ctx, 'chain'),
      content: statusOf(this.ctx, 'content'),
      timeline: this.timeline
    })
  }

  routes (app: FastifyInstance): void {
    app.get('/dashboard', SESSION_ROUTE, async (_request, reply) => await reply.type('text/html; charset=utf-8').header('cache-control', 'no-store')
      .header('content-security-policy', PAGE_CSP).header('x-frame-options', 'DENY').send(DASHBOARD_HTML))
    app.get('/dashboard/app.css', SESSION_ROUTE, async (_request, reply) => await reply.type('text/css; charset=utf-8').header('cache-control', 'no-store').send(DASHBOARD_CSS))
    app.get('/dashboard/app.js', SESSION_ROUTE, async (_request, reply) => await reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-store').send(DASHBOARD_JS))
    app.get('/v1/dashboard/state', async () => this.state())
    this.stream.routes(app)
  }
}
