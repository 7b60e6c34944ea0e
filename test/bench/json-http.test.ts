import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpStatusError, keepAliveAgent, requestJson } from '../../bench/lib/json-http.js'

// The load generator's client (bench/lib/json-http): same answers and errors as the fetch-based one it
// replaced, on reused keep-alive connections.
describe('bench json-http client', () => {
  const servers: http.Server[] = []
  const agents: http.Agent[] = []
  afterEach(async () => {
    for (const a of agents.splice(0)) a.destroy()
    await Promise.all(servers.splice(0).map(async (s) => { s.closeAllConnections(); await new Promise((resolve) => s.close(resolve)) }))
  })

  async function serve (handler: http.RequestListener): Promise<{ base: string, connections: () => number }> {
    const server = http.createServer(handler)
    let connections = 0
    server.on('connection', () => { connections++ })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections }
  }

  function agent (): http.Agent {
    const a = keepAliveAgent()
    agents.push(a)
    return a
  }

  it('sends the token and JSON body, parses the answer, and reuses one connection', async () => {
    const seen: Array<{ method?: string, url?: string, auth?: string, type?: string, body: string }> = []
    const { base, connections } = await serve((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => { body += c.toString() })
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body })
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ echo: body === '' ? null : JSON.parse(body) }))
      })
    })
    const a = agent()
    for (let i = 0; i < 5; i++) {
      expect(await requestJson(a, { method: 'POST', base, route: '/v1/proposals', token: 't0k', body: { kind: 'promote', i }, timeoutMs: 5000 }))
        .toEqual({ echo: { kind: 'promote', i } })
    }
    expect(await requestJson(a, { method: 'GET', base, route: '/v1/shape?stale=true', token: 't0k', timeoutMs: 5000 })).toEqual({ echo: null })
    expect(seen[0]).toEqual({ method: 'POST', url: '/v1/proposals', auth: 'Bearer t0k', type: 'application/json', body: '{"kind":"promote","i":0}' })
    expect(seen[5]).toMatchObject({ method: 'GET', url: '/v1/shape?stale=true', auth: 'Bearer t0k', body: '' })
    expect(connections()).toBe(1)
  })

  it('throws HttpStatusError with the status and body of a non-2xx answer', async () => {
    const { base } = await serve((_req, res) => { res.statusCode = 409; res.end('{"error":"Refused","message":"no"}') })
    const err = await requestJson(agent(), { method: 'POST', base, route: '/v1/proposals', token: 't', body: {}, timeoutMs: 5000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(HttpStatusError)
    expect((err as HttpStatusError).status).toBe(409)
    expect((err as Error).message).toBe('/v1/proposals: 409 {"error":"Refused","message":"no"}')
  })

  it('gives up at its deadline with HttpTimeoutError when no answer comes', async () => {
    const { base } = await serve(() => { /* never answers */ })
    const err = await requestJson(agent(), { method: 'POST', base, route: '/slow', token: 't', body: {}, timeoutMs: 100 }).catch((e: unknown) => e)
    expect((err as Error).name).toBe('HttpTimeoutError')
  })

  it('rejects with the socket error when nothing listens', async () => {
    const { base } = await serve(() => {})
    await new Promise((resolve) => servers.pop()?.close(resolve))
    const err = await requestJson(agent(), { method: 'GET', base, route: '/v1/status', token: 't', timeoutMs: 5000 }).catch((e: unknown) => e)
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
  })
})
