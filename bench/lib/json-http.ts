/**
 * @module bench/lib/json-http
 * A lean JSON-over-HTTP client for load generators: node:http on a keep-alive Agent, one plain timer per
 * request for its deadline. The load generator shares the machine's cores with the servers it measures, so
 * its own CPU per request matters: Node's `fetch` (undici, web streams, an `AbortSignal.timeout` per request)
 * cost 1.0–2.0 ms of the bench's CPU per commit against ~0.5–1 ms for etcd's gRPC client
 * (docs/bench/consensus.md, "Per-request cost"). This frees shared CPU; it does not make the servers faster.
 */
import http from 'node:http'

/** An answer that is not 2xx: the message carries the status and the body, as the fetch-based client's did. */
export class HttpStatusError extends Error {
  override name = 'HttpStatusError'
  constructor (readonly route: string, readonly status: number, readonly body: string) {
    super(`${route}: ${status} ${body}`)
  }
}

/** The request exceeded its deadline (the socket is destroyed; the server may still act on it). */
export class HttpTimeoutError extends Error {
  override name = 'HttpTimeoutError'
  constructor (readonly route: string, readonly timeoutMs: number) {
    super(`${route}: no answer within ${timeoutMs} ms`)
  }
}

export interface JsonRequest {
  method: 'GET' | 'POST'
  /** Base URL of the server (`http://127.0.0.1:PORT`). */
  base: string
  route: string
  token: string
  body?: unknown
  timeoutMs: number
}

/** Keep-alive connections, reused across requests; one per client of a bench. */
export function keepAliveAgent (): http.Agent {
  // No socket cap: every concurrent client gets its own connection, as with fetch.
  return new http.Agent({ keepAlive: true, maxSockets: Infinity })
}

/**
 * Sends one request and resolves with the parsed JSON answer.
 * @throws HttpStatusError for a non-2xx answer, HttpTimeoutError past `timeoutMs`, the socket's error otherwise
 */
export async function requestJson (agent: http.Agent, req: JsonRequest): Promise<unknown> {
  const url = new URL(req.route, req.base)
  const payload = req.body === undefined ? undefined : JSON.stringify(req.body)
  const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${req.token}` }
  if (payload !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = Buffer.byteLength(payload)
  }
  return await new Promise((resolve, reject) => {
    const request = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: req.method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      res.on('error', fail)
      res.on('end', () => {
        clearTimeout(timer)
        const text = Buffer.concat(chunks).toString('utf8')
        const status = res.statusCode ?? 0
        if (status < 200 || status >= 300) { reject(new HttpStatusError(req.route, status, text)); return }
        try { resolve(JSON.parse(text)) } catch (err) { reject(err as Error) }
      })
    })
    function fail (err: Error): void {
      clearTimeout(timer)
      reject(err)
    }
    const timer = setTimeout(() => { request.destroy(new HttpTimeoutError(req.route, req.timeoutMs)) }, req.timeoutMs)
    request.on('error', fail)
    request.end(payload)
  })
}
