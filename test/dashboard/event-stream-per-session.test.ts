/**
 * Goal: one dashboard session cannot hold every event-stream slot: its streams past SSE_STREAMS_PER_SESSION_MAX
 * are refused with 429 and the API's error shape (`TooManyRequests`), while another session and the admin token
 * still open theirs. Before, a browser leaking tabs (or a script with one cookie) took all SSE_CLIENTS_MAX (16)
 * streams and every other viewer got 503 until it closed them.
 * Method: the admin API with the real dashboard routes on port 0; streams read by a plain HTTP client.
 */
import http from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiServer } from '../../src/api/index.js'
import { silentLogger } from '../../src/log/index.js'
import type { Logger } from '../../src/log/index.js'
import { DashboardService } from '../../src/dashboard/index.js'
import { SSE_CLIENTS_MAX, SSE_REFUSED_LOG_INTERVAL_MS, SSE_STREAMS_PER_SESSION_MAX } from '../../src/dashboard/constants.js'
import type { ServiceContext } from '../../src/node/service.js'
import { capturingLogger, waitFor } from '../node/helpers.js'

const TOKEN = 'sekret-token'
const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0).reverse()) await close() })

/** The dashboard of the last `server()`, to stop it. */
let lastDashboard: DashboardService | undefined

async function server (init: { log?: Logger, monotonicMs?: () => number } = {}): Promise<string> {
  const api = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
  const dashboard = new DashboardService({ nowMs: () => 1_000, ...(init.monotonicMs !== undefined ? { monotonicMs: init.monotonicMs } : {}) })
  const ctx = { nodeId: 'n1', cluster: { clusterId: 'c1' }, service: () => undefined, log: init.log } as unknown as ServiceContext
  await dashboard.start(ctx)
  dashboard.routes(api.app)
  lastDashboard = dashboard
  closers.push(async () => { await dashboard.stop() }, async () => { await api.close() })
  return await api.listen()
}

async function sessionCookie (url: string): Promise<string> {
  const link = await fetch(`${url}/v1/login-links`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
  const res = await fetch(((await link.json()) as { url: string }).url, { redirect: 'manual' })
  return (res.headers.get('set-cookie') as string).split(';')[0] as string
}

/** `GET /v1/events`: its status, and for a 200 once the first state event arrived, for another its JSON body. */
async function openStream (url: string, headers: Record<string, string>): Promise<{ status: number, body: unknown }> {
  return await new Promise((resolve, reject) => {
    const request = http.get(`${url}/v1/events`, { headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
        if (res.statusCode === 200 && text.includes('event: state')) resolve({ status: 200, body: undefined })
      })
      res.on('end', () => { if (res.statusCode !== 200) resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }) })
    })
    request.on('error', reject)
    closers.push(async () => { request.destroy() })
  })
}

describe('dashboard event streams per session', () => {
  it('should refuse a session\'s stream past its cap with 429 and keep slots for other sessions and the token', async () => {
    const url = await server()
    const leaky = await sessionCookie(url)
    for (let i = 0; i < SSE_STREAMS_PER_SESSION_MAX; i++) expect((await openStream(url, { cookie: leaky })).status).toBe(200)
    const refused = await openStream(url, { cookie: leaky })
    expect(refused).toEqual({ status: 429, body: { error: 'TooManyRequests', message: expect.stringContaining(`${SSE_STREAMS_PER_SESSION_MAX}`) as string } })
    expect((await openStream(url, { cookie: await sessionCookie(url) })).status).toBe(200)
    expect((await openStream(url, { authorization: `Bearer ${TOKEN}` })).status).toBe(200)
  })

  it('should give a session its slot back when one of its streams closes', async () => {
    const url = await server()
    const cookie = await sessionCookie(url)
    const requests: http.ClientRequest[] = []
    for (let i = 0; i < SSE_STREAMS_PER_SESSION_MAX; i++) {
      await new Promise<void>((resolve) => {
        const request = http.get(`${url}/v1/events`, { headers: { cookie } }, (res) => {
          res.on('data', () => { resolve() })
        })
        requests.push(request)
        closers.push(async () => { request.destroy() })
      })
    }
    expect((await openStream(url, { cookie })).status).toBe(429)
    requests[0]?.destroy()
    await waitFor(async () => (await openStream(url, { cookie })).status === 200, 5_000, 'a slot freed by a closed stream')
  })

  /**
   * Goal: a client retrying a refused stream in a loop costs the node's log one line per interval, with the count,
   * not a line per attempt. Method: a clock the test moves; ten refusals within one interval, one past it.
   */
  it('should log refused streams once per interval with their count', async () => {
    let nowMs = 0
    const { log, lines } = capturingLogger('info')
    const url = await server({ log, monotonicMs: () => nowMs })
    const cookie = await sessionCookie(url)
    for (let i = 0; i < SSE_STREAMS_PER_SESSION_MAX; i++) expect((await openStream(url, { cookie })).status).toBe(200)
    const refusedLines = (): Array<Record<string, unknown>> => lines.filter((l) => String(l.msg).startsWith('dashboard event streams refused'))
    for (let i = 0; i < 10; i++) expect((await openStream(url, { cookie })).status).toBe(429)
    expect(refusedLines().map((l) => l.refused)).toEqual([1])
    nowMs += SSE_REFUSED_LOG_INTERVAL_MS
    expect((await openStream(url, { cookie })).status).toBe(429)
    expect(refusedLines().map((l) => l.refused)).toEqual([1, 10])
  })
})

describe('dashboard event streams per node', () => {
  /**
   * Goal: streams refused at the node's limit (503) are logged as the session's are, once per interval with their
   * count, and apart from them: a session's refusals do not silence the node's. Before (2026-12-08), a node
   * serving SSE_CLIENTS_MAX streams refused every other viewer with no line at all.
   * Method: a clock the test moves; one session refused (429), the node filled with token streams, then ten
   * refusals within the interval and one past it.
   */
  it('should log streams refused at the node\'s limit once per interval with their count, apart from a session\'s', async () => {
    let nowMs = 0
    const { log, lines } = capturingLogger('info')
    const url = await server({ log, monotonicMs: () => nowMs })
    const cookie = await sessionCookie(url)
    for (let i = 0; i < SSE_STREAMS_PER_SESSION_MAX; i++) expect((await openStream(url, { cookie })).status).toBe(200)
    expect((await openStream(url, { cookie })).status).toBe(429)
    for (let i = SSE_STREAMS_PER_SESSION_MAX; i < SSE_CLIENTS_MAX; i++) expect((await openStream(url, { authorization: `Bearer ${TOKEN}` })).status).toBe(200)
    const nodeLines = (): Array<Record<string, unknown>> => lines.filter((l) => String(l.msg).includes('this node serves the most streams'))
    for (let i = 0; i < 10; i++) {
      expect(await openStream(url, { authorization: `Bearer ${TOKEN}` })).toEqual({ status: 503, body: { error: 'Unavailable', message: `too many event streams: at most ${SSE_CLIENTS_MAX}` } })
    }
    expect(nodeLines().map((l) => ({ level: l.level, refused: l.refused, streamsMax: l.streamsMax }))).toEqual([{ level: 40, refused: 1, streamsMax: SSE_CLIENTS_MAX }])
    nowMs += SSE_REFUSED_LOG_INTERVAL_MS
    expect((await openStream(url, { cookie })).status).toBe(503)
    expect(nodeLines().map((l) => l.refused)).toEqual([1, 10])
    // The session's one refusal had its own line; the node's did not count toward it.
    expect(lines.filter((l) => String(l.msg).includes('their session holds')).map((l) => l.refused)).toEqual([1])
  })

  it('should refuse a stream with 503 "the node is stopping" once the dashboard stopped, and log no refusal', async () => {
    const { log, lines } = capturingLogger('info')
    const url = await server({ log })
    await lastDashboard?.stop()
    expect(await openStream(url, { authorization: `Bearer ${TOKEN}` })).toEqual({ status: 503, body: { error: 'Unavailable', message: 'the node is stopping' } })
    expect(lines.filter((l) => String(l.msg).startsWith('dashboard event streams refused'))).toEqual([])
  })
})
