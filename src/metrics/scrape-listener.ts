/**
 * @module metrics/scrape-listener
 * The scrape-only listener: a plain HTTP server that answers `GET /metrics` and nothing else, so a
 * Prometheus (or anyone who can reach it) gets read-only figures and no admin power. When a scrape token
 * is configured it must come as `Authorization: Bearer <token>`; that token opens this listener only.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { timingSafeEqual } from 'node:crypto'
import type { Logger } from '../log/index.js'
import type { NodeMetrics } from './registry.js'
import { SCRAPE_CONNECTIONS_MAX, SCRAPE_HEADERS_TIMEOUT_MS } from './constants.js'
import { MetricsListenInUseError } from './errors.js'

export interface ScrapeListenerInit {
  host: string
  port: number
  /** Required bearer token; undefined = none (only allowed on loopback, config/schema.ts checks). */
  token: string | undefined
  metrics: NodeMetrics
  log: Logger
}

function bearerMatches (header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false
  const given = Buffer.from(header.slice('Bearer '.length))
  const expected = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** The path of a request target, or undefined when it does not parse as a URL. */
function pathOf (target: string): string | undefined {
  try {
    return new URL(target, 'http://scrape').pathname
  } catch {
    return undefined
  }
}

/** A running scrape listener. */
export class ScrapeListener {
  private readonly server: Server
  private urlValue: string | undefined

  constructor (private readonly init: ScrapeListenerInit) {
    this.server = createServer((req, res) => { void this.handle(req, res) })
    this.server.headersTimeout = SCRAPE_HEADERS_TIMEOUT_MS
    this.server.requestTimeout = SCRAPE_HEADERS_TIMEOUT_MS
    // Anyone who reaches the port may open connections, before any token: hold a bounded number.
    this.server.maxConnections = SCRAPE_CONNECTIONS_MAX
    this.server.on('drop', () => { this.init.log.debug({ max: SCRAPE_CONNECTIONS_MAX }, 'scrape connection dropped: too many open') })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = pathOf(req.url ?? '/')
    if (pathname === undefined) {
      // NB: the HTTP parser takes targets WHATWG URL refuses (`GET http://[ HTTP/1.1`); thrown here, before
      // the token check, the rejection went unhandled and ended the node.
      this.init.log.debug({ url: (req.url ?? '').slice(0, 200) }, 'scrape request refused: its target is no URL')
      return this.answer(res, 400, 'the request target is no URL\n')
    }
    if (pathname !== '/metrics') return this.answer(res, 404, 'only /metrics is served here\n')
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.answer(res, 405, 'GET only\n')
    if (this.init.token !== undefined && !bearerMatches(req.headers.authorization, this.init.token)) {
      res.setHeader('www-authenticate', 'Bearer')
      return this.answer(res, 401, 'scrape token required\n')
    }
    try {
      const body = await this.init.metrics.exposition()
      res.writeHead(200, { 'content-type': this.init.metrics.contentType })
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch (err) {
      this.init.log.warn({ err: (err as Error).message }, 'metrics exposition failed')
      this.answer(res, 500, 'metrics exposition failed\n')
    }
  }

  private answer (res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
    res.end(text)
  }

  /**
   * Listens; returns `http://host:port`.
   *
   * @throws MetricsListenInUseError when the address is taken
   */
  async listen (): Promise<string> {
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject)
        this.server.listen({ host: this.init.host, port: this.init.port }, () => { this.server.off('error', reject); resolve() })
      })
    } catch (err) {
      // NB: a bare EADDRINUSE reached the CLI, which took it for the libp2p listen address (pick another --listen).
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new MetricsListenInUseError(this.init.host, this.init.port)
      throw err
    }
    const address = this.server.address()
    if (address === null || typeof address === 'string') throw new Error('scrape listener has no TCP address')
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    this.urlValue = `http://${host}:${address.port}`
    this.init.log.info({ url: this.urlValue, token: this.init.token !== undefined }, 'metrics scrape listener up')
    return this.urlValue
  }

  get url (): string | undefined { return this.urlValue }

  async close (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => { this.server.close(() => { resolve() }) })
  }
}
