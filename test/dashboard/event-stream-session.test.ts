/**
 * Goal: a dashboard event stream opened with a session cookie ends when that session does, by expiry or by
 * eviction (SESSIONS_MAX newer sessions), not only when it is next opened; a stream opened with the admin token
 * is no session's and stays. Before, a browser tab kept receiving the node's state for as long as it stayed
 * open, 12 h after its session had expired or long after it had been evicted.
 * Method: the admin API with the real dashboard routes on port 0, the sessions' clock injected and moved past
 * their time to live; each stream is read by a plain HTTP client, which sees its response end.
 */
import http from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiServer } from '../../src/api/index.js'
import { SESSION_TTL_MS, SESSIONS_MAX } from '../../src/api/constants.js'
import { silentLogger } from '../../src/log/index.js'
import { DashboardService } from '../../src/dashboard/index.js'
import type { ServiceContext } from '../../src/node/service.js'
import { waitFor } from '../node/helpers.js'

const TOKEN = 'sekret-token'
const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0).reverse()) await close() })

interface Stream { received: () => string, ended: () => boolean, destroy: () => void }

/** The admin API and the dashboard over no layers; `clock.now` is the sessions' time. */
async function server (clock: { now: number }): Promise<{ api: ApiServer, url: string }> {
  const api = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger(), nowMs: () => clock.now })
  const dashboard = new DashboardService({ nowMs: () => 1_000 })
  const ctx = { nodeId: 'n1', cluster: { clusterId: 'c1' }, service: () => undefined } as unknown as ServiceContext
  await dashboard.start(ctx)
  dashboard.routes(api.app)
  closers.push(async () => { await dashboard.stop() }, async () => { await api.close() })
  return { api, url: await api.listen() }
}

/** A session cookie, got the way a browser does: a login link minted with the token, then opened. */
async function sessionCookie (url: string): Promise<string> {
  const link = await fetch(`${url}/v1/login-links`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
  const res = await fetch(((await link.json()) as { url: string }).url, { redirect: 'manual' })
  return (res.headers.get('set-cookie') as string).split(';')[0] as string
}

/** `GET /v1/events` with `headers`, once its first state event has arrived. */
async function openStream (url: string, headers: Record<string, string>): Promise<Stream> {
  let received = ''
  let ended = false
  const request = http.get(`${url}/v1/events`, { headers }, (res) => {
    expect(res.statusCode).toBe(200)
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => { received += chunk })
    res.on('close', () => { ended = true })
  })
  request.on('error', () => { ended = true })
  closers.push(async () => { request.destroy() })
  await waitFor(() => received.includes('event: state'), 5_000, 'the first state event')
  return { received: () => received, ended: () => ended, destroy: () => request.destroy() }
}

describe('dashboard event stream and its session', () => {
  it('should end a stream when its session expires, and keep a younger session\'s and one opened with the token', async () => {
    const clock = { now: 1_000_000 }
    const { url } = await server(clock)
    const older = await openStream(url, { cookie: await sessionCookie(url) })
    clock.now += 60 * 60_000
    const younger = await openStream(url, { cookie: await sessionCookie(url) })
    const byToken = await openStream(url, { authorization: `Bearer ${TOKEN}` })
    clock.now = 1_000_000 + SESSION_TTL_MS
    await waitFor(() => older.ended(), 5_000, 'the expired session\'s stream to end')
    expect(younger.ended()).toBe(false)
    expect(byToken.ended()).toBe(false)
  })

  it('should end a stream when its session is evicted by newer ones', async () => {
    const clock = { now: 1_000_000 }
    const { api, url } = await server(clock)
    const oldest = await openStream(url, { cookie: await sessionCookie(url) })
    const newest = await sessionCookie(url)
    for (let i = 0; i < SESSIONS_MAX - 1; i++) api.sessions.redeem(api.sessions.mintLoginCode())
    await waitFor(() => oldest.ended(), 5_000, 'the evicted session\'s stream to end')
    const kept = await openStream(url, { cookie: newest })
    expect(kept.ended()).toBe(false)
  })
})
