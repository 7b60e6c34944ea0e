/**
 * @module dashboard/event-stream
 * `GET /v1/events`: server-sent events carrying the dashboard state. Every client first gets the whole
 * state, then a new `state` event whenever it changed (rebuilt on every layer event and every
 * SSE_PUSH_INTERVAL_MS). Clients are bounded (SSE_CLIENTS_MAX; one more gets 503), and so are one session's
 * (SSE_STREAMS_PER_SESSION_MAX; one more gets 429, so one browser leaking tabs cannot lock others out); each kind
 * of refusal is logged at most once per SSE_REFUSED_LOG_INTERVAL_MS with its count. A client that stops
 * reading is dropped (and logged) once its buffer passes SSE_CLIENT_BUFFER_BYTES_MAX; EventSource reconnects by
 * itself. A closing node sends each stream a `stopping` event before it ends it, and refuses new ones (503).
 * A stream a session cookie opened ends at the first push tick after that session expires or is evicted
 * (api/sessions.ts): the cookie was checked when the stream opened, and the stream would otherwise outlive it.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { Logger } from '../log/index.js'
import { SESSION_ROUTE, sendApiError, sessionIdOf, sessionLiveness } from '../api/index.js'
import { steadyNowMs } from '../util/clock.js'
import {
  SSE_CLIENT_BUFFER_BYTES_MAX, SSE_CLIENTS_MAX, SSE_KEEPALIVE_MS, SSE_PUSH_INTERVAL_MS, SSE_REFUSED_LOG_INTERVAL_MS, SSE_RETRY_MS,
  SSE_STREAMS_PER_SESSION_MAX
} from './constants.js'

/** An open stream: its session (undefined: opened with the token) and that session's liveness check. */
interface Client { session: string | undefined, live: (() => boolean) | undefined }

/**
 * Refusals of one kind, said at most once per SSE_REFUSED_LOG_INTERVAL_MS with how many came since the last line
 * (`say`'s argument): a client that retries in a loop wrote a line per attempt, or, at the node's limit, none.
 */
class RefusalLog {
  /** Refusals since the last line, and when that line was written. */
  private unlogged = 0
  private loggedAtMs: number | undefined

  constructor (private readonly monotonicMs: () => number, private readonly say: (refused: number) => void) {}

  count (): void {
    this.unlogged++
    const nowMs = this.monotonicMs()
    if (this.loggedAtMs !== undefined && nowMs - this.loggedAtMs < SSE_REFUSED_LOG_INTERVAL_MS) return
    this.say(this.unlogged)
    this.unlogged = 0
    this.loggedAtMs = nowMs
  }
}

export class EventStream {
  /** Each open stream, with its session (undefined: opened with the token, no session). */
  private readonly clients = new Map<ServerResponse, Client>()
  private last = ''
  private pushTimer: NodeJS.Timeout | undefined
  private keepaliveTimer: NodeJS.Timeout | undefined
  private scheduled = false
  private closed = false
  private log: Logger | undefined
  /** Streams refused for their session's limit (429), and for the node's (503): each kind has its own lines. */
  private readonly refusedOfSession: RefusalLog
  private readonly refusedOfNode: RefusalLog

  /**
   * @param render the current state as JSON text
   * @param monotonicMs the clock of SSE_REFUSED_LOG_INTERVAL_MS
   */
  constructor (private readonly render: () => string, monotonicMs: () => number = steadyNowMs) {
    this.refusedOfSession = new RefusalLog(monotonicMs, (refused) => {
      this.log?.info({ streamsMax: SSE_STREAMS_PER_SESSION_MAX, refused, intervalMs: SSE_REFUSED_LOG_INTERVAL_MS },
        'dashboard event streams refused: their session holds the most streams a session may')
    })
    // A warning: every viewer of this node is locked out, not one browser's extra tabs.
    this.refusedOfNode = new RefusalLog(monotonicMs, (refused) => {
      this.log?.warn({ streamsMax: SSE_CLIENTS_MAX, refused, intervalMs: SSE_REFUSED_LOG_INTERVAL_MS },
        'dashboard event streams refused: this node serves the most streams it may (dashboards or scripts holding /v1/events)')
    })
  }

  /**
   * Nothing to do until a client connects: the timers run only while one is (issue 16, idle cost).
   * @param log where refused streams are said
   */
  start (log?: Logger): void {
    this.log = log
  }

  private startTimers (): void {
    if (this.pushTimer !== undefined) return
    this.pushTimer = setInterval(() => { this.endEndedSessions(); this.push() }, SSE_PUSH_INTERVAL_MS)
    this.keepaliveTimer = setInterval(() => { this.write(': keepalive\n\n') }, SSE_KEEPALIVE_MS)
    this.pushTimer.unref?.()
    this.keepaliveTimer.unref?.()
  }

  private stopTimers (): void {
    clearInterval(this.pushTimer)
    clearInterval(this.keepaliveTimer)
    this.pushTimer = undefined
    this.keepaliveTimer = undefined
  }

  /** True while the periodic push runs (for tests). */
  get timersRunning (): boolean {
    return this.pushTimer !== undefined
  }

  /** Something changed: push soon (coalesced with anything else in this turn of the event loop). */
  poke (): void {
    // No stream open: push() would do nothing, so no turn is scheduled (a new stream starts the periodic push).
    if (this.scheduled || this.closed || this.clients.size === 0) return
    this.scheduled = true
    setImmediate(() => { this.scheduled = false; this.push() })
  }

  get clientCount (): number {
    return this.clients.size
  }

  routes (app: FastifyInstance): void {
    app.get('/v1/events', SESSION_ROUTE, async (request, reply) => {
      if (this.closed) return await sendApiError(reply, 'Unavailable', 'the node is stopping')
      if (this.clients.size >= SSE_CLIENTS_MAX) {
        this.refusedOfNode.count()
        return await sendApiError(reply, 'Unavailable', `too many event streams: at most ${SSE_CLIENTS_MAX}`)
      }
      const session = sessionIdOf(request)
      if (session !== undefined && this.streamsOf(session) >= SSE_STREAMS_PER_SESSION_MAX) {
        this.refusedOfSession.count()
        return await sendApiError(reply, 'TooManyRequests', `too many event streams of this dashboard session: at most ${SSE_STREAMS_PER_SESSION_MAX}; close other dashboard tabs`)
      }
      reply.hijack()
      const res = reply.raw
      // Hijacked: the API's onSend headers (api/server.ts) do not reach this answer.
      res.writeHead(200, {
        'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive',
        'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer'
      })
      res.write(`retry: ${SSE_RETRY_MS}\n\n`)
      this.clients.set(res, { session, live: sessionLiveness(request) })
      this.startTimers()
      request.raw.once('close', () => {
        this.clients.delete(res)
        if (this.clients.size === 0) this.stopTimers()
      })
      this.pushOrSend(res)
    })
    // Open streams would hold the server's close forever: end them first.
    app.addHook('preClose', async () => { this.close() })
  }

  /** Open streams of `session` (at most SSE_CLIENTS_MAX to count). */
  private streamsOf (session: string): number {
    let count = 0
    for (const client of this.clients.values()) if (client.session === session) count++
    return count
  }

  /**
   * Ends every stream and stops the timers. Each first gets a `stopping` event: the page says the node is
   * stopping instead of taking the end for a broken stream.
   */
  close (): void {
    this.closed = true
    this.stopTimers()
    for (const res of this.clients.keys()) res.end('event: stopping\ndata: {}\n\n')
    this.clients.clear()
  }

  /** Ends the streams whose session is over; the browser's reconnect then meets the 401 of its stale cookie. */
  private endEndedSessions (): void {
    for (const [res, { live }] of this.clients) {
      if (live === undefined || live()) continue
      this.clients.delete(res)
      res.end()
    }
    if (this.clients.size === 0) this.stopTimers()
  }

  private push (): void {
    if (this.clients.size === 0 || this.closed) return
    const state = this.render()
    if (state === this.last) return
    this.last = state
    for (const res of this.clients.keys()) this.send(res, state)
  }

  /**
   * A new stream's first state is the current one: `last` may be from long ago (no stream was open since). A
   * changed state goes to every stream, so none misses it; an unchanged one to the new stream only.
   */
  private pushOrSend (res: ServerResponse): void {
    const state = this.render()
    if (state === this.last) { this.send(res, state); return }
    this.last = state
    for (const client of this.clients.keys()) this.send(client, state)
  }

  private send (res: ServerResponse, state: string): void {
    this.writeTo(res, `event: state\ndata: ${state}\n\n`)
  }

  private write (text: string): void {
    for (const res of this.clients.keys()) this.writeTo(res, text)
  }

  /** Writes unless the client's unsent bytes passed the bound: then it is dropped, so it holds at most one more state. */
  private writeTo (res: ServerResponse, text: string): void {
    if (res.writableLength > SSE_CLIENT_BUFFER_BYTES_MAX) {
      this.log?.info({ unsentBytes: res.writableLength, unsentBytesMax: SSE_CLIENT_BUFFER_BYTES_MAX }, 'dashboard event stream dropped: its client reads too slowly (it reconnects for a fresh state)')
      this.clients.delete(res)
      if (this.clients.size === 0) this.stopTimers()
      res.destroy()
      return
    }
    res.write(text)
  }
}
