/**
 * @module api/server
 * The admin HTTP API (DESIGN §10): fastify on loopback, every request needs `Authorization: Bearer <token>`
 * (401 otherwise). The node registers `/v1/status`; services add their own routes through `app`. Binding a
 * non-loopback host must be explicitly allowed, because the API controls the node.
 *
 * Browsers (the dashboard) authenticate with a session cookie instead (api/sessions.ts): `POST
 * /v1/login-links` (token) mints a one-time code, `GET /login?code=…` trades it for the cookie. The cookie
 * opens only GET routes registered with SESSION_ROUTE — what the dashboard page loads: the page, its script
 * and its event stream. Everything else (the join string with the cluster key, chain exports, content bytes)
 * needs the token. A route marked `{ config: { public: true } }` skips the check (only /login is).
 */
import { timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from '../log/index.js'
import { API_BODY_BYTES_MAX, API_KEEP_ALIVE_TIMEOUT_MS } from './constants.js'
import { API_ERROR_CODES, ApiBindRefusedError, ApiPortInUseError } from './errors.js'
import type { ApiErrorBody, ApiErrorCode } from './errors.js'

/** Answers with the API's one error shape `{error, message}` and the code's HTTP status. */
export function sendApiError (reply: FastifyReply, code: ApiErrorCode, message: string): FastifyReply {
  const body: ApiErrorBody = { error: code, message }
  return reply.code(API_ERROR_CODES[code].status).send(body)
}
import { SessionStore, sessionCookie } from './sessions.js'

/**
 * Route options for a GET route the dashboard's session cookie may read (`app.get(path, SESSION_ROUTE, …)`).
 * Give it only to what the dashboard page itself loads: the cookie lives in a browser, the token does not.
 */
export const SESSION_ROUTE = { config: { session: true } } as const

/** Requests let in by a session cookie (not the token), each with its session and whether it is still live. */
const sessionRequests = new WeakMap<FastifyRequest, { id: string, live: () => boolean }>()

/**
 * For a request the session cookie let in, a check that its session is still live (it expires or is evicted
 * later); undefined for one the token let in, which no session bounds. A long answer (the event stream) asks it
 * as it goes: the cookie is checked only when the request arrives.
 */
export function sessionLiveness (request: FastifyRequest): (() => boolean) | undefined {
  return sessionRequests.get(request)?.live
}

/**
 * The id of the session whose cookie let `request` in; undefined for one the token let in. A secret: for
 * counting a session's requests, never for a log or an answer.
 */
export function sessionIdOf (request: FastifyRequest): string | undefined {
  return sessionRequests.get(request)?.id
}

/** The route flags the auth hook reads. */
interface RouteAuthConfig { public?: boolean, session?: boolean }

/** Options of the API server. */
export interface ApiServerInit {
  host: string
  port: number
  allowNonLoopback: boolean
  token: string
  log: Logger
  /** The sessions' and login codes' clock (ms). @default steadyNowMs */
  nowMs?: () => number
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost (host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

/** `expected` is the token's bytes, made once per server (this runs on every request). */
function tokenMatches (header: string | undefined, expected: Buffer): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false
  const given = Buffer.from(header.slice('Bearer '.length))
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** The admin API; routes are added to `app` before `listen()`. */
export class ApiServer {
  readonly app: FastifyInstance
  readonly sessions: SessionStore
  private urlValue: string | undefined

  /** @throws ApiBindRefusedError for a non-loopback host without `allowNonLoopback` */
  constructor (private readonly init: ApiServerInit) {
    if (!init.allowNonLoopback && !isLoopbackHost(init.host)) throw new ApiBindRefusedError(init.host)
    this.sessions = new SessionStore(init.nowMs)
    this.app = Fastify({
      logger: false,
      bodyLimit: API_BODY_BYTES_MAX,
      keepAliveTimeout: API_KEEP_ALIVE_TIMEOUT_MS,
      // NB: fastify answers a path its router cannot decode (FST_ERR_BAD_URL) before any hook, and not through
      // setErrorHandler: without this its own body (`error: "Bad Request"`, no API code) went out.
      frameworkErrors: (err: Error & { statusCode?: number }, request, reply) => {
        init.log.debug({ url: request.url.slice(0, 200), err: err.message }, 'API request refused by the router')
        void sendApiError(reply, (err.statusCode ?? 500) < 500 ? 'BadRequest' : 'Internal', err.message)
      }
    })
    const expectedToken = Buffer.from(init.token)
    this.app.addHook('onRequest', async (request, reply) => {
      if (tokenMatches(request.headers.authorization, expectedToken)) return
      const route = request.routeOptions.config as RouteAuthConfig | undefined
      if (route?.public === true) return
      const read = request.method === 'GET' || request.method === 'HEAD'
      const session = read && route?.session === true ? this.sessions.sessionOfCookie(request.headers.cookie) : undefined
      if (session !== undefined) {
        sessionRequests.set(request, { id: session, live: () => this.sessions.isLive(session) })
        return
      }
      init.log.debug({ url: request.url }, 'rejected API request without a valid token')
      await sendApiError(reply.header('www-authenticate', 'Bearer'), 'Unauthorized',
        'missing or wrong bearer token (the token is in <data-dir>/api.json)')
    })
    // Every answer: no content-type sniffing (an error text read as HTML), and no Referer from a page of this API
    // (the dashboard's; the /login URL carries a one-time code). The event stream sets its own (it is hijacked).
    this.app.addHook('onSend', async (_request, reply) => {
      void reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer')
    })
    this.app.setNotFoundHandler(async (request, reply) => {
      await sendApiError(reply, 'NotFound', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)
    })
    // Fastify's own errors (unparsable JSON, wrong content type, body too large) get the same shape.
    this.app.setErrorHandler(async (err: Error & { statusCode?: number }, request, reply) => {
      const status = err.statusCode ?? 500
      if (status >= 500) init.log.error({ url: request.url, err: err.message }, 'API request failed')
      await sendApiError(reply, status === 404 ? 'NotFound' : status < 500 ? 'BadRequest' : 'Internal', err.message)
    })
    this.loginRoutes()
  }

  private loginRoutes (): void {
    this.app.post('/v1/login-links', async () => {
      const code = this.sessions.mintLoginCode()
      return { path: `/login?code=${code}`, url: `${this.urlValue ?? ''}/login?code=${code}` }
    })
    this.app.get('/login', { config: { public: true } }, async (request, reply) => {
      // A link previewer (a chat client unfurling the pasted link) asks with HEAD: fastify runs GET's handler
      // for it, which spent the one-time code before the operator opened the link.
      if (request.method === 'HEAD') return await reply.header('cache-control', 'no-store').code(200).type('text/plain').send()
      const code = (request.query as { code?: unknown }).code
      const session = typeof code === 'string' ? this.sessions.redeem(code) : undefined
      void reply.header('cache-control', 'no-store')
      if (session === undefined) {
        this.init.log.info('dashboard login refused: unknown, used or expired code')
        return await reply.code(401).type('text/plain').send('This login link is unknown, used or expired: run `revoada dashboard` for a new one.\n')
      }
      this.init.log.info('dashboard session opened')
      return await reply.header('set-cookie', sessionCookie(session, request.socket.localPort ?? 0)).redirect('/dashboard', 303)
    })
  }

  /** Listens and returns the base URL (`http://127.0.0.1:PORT`). */
  async listen (): Promise<string> {
    try {
      await this.app.listen({ host: this.init.host, port: this.init.port })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new ApiPortInUseError(this.init.host, this.init.port)
      throw err
    }
    const address = this.app.server.address()
    if (address === null || typeof address === 'string') throw new Error('API server has no TCP address')
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    this.urlValue = `http://${host}:${address.port}`
    this.init.log.info({ url: this.urlValue }, 'admin API listening')
    return this.urlValue
  }

  get url (): string | undefined { return this.urlValue }

  async close (): Promise<void> {
    await this.app.close()
  }
}
