/**
 * Dashboard sessions: a one-time login code (minted with the admin token) becomes a session cookie; the code
 * works once; the cookie opens only what the dashboard page loads (the page, its script, its event stream),
 * never a state-changing request nor a secret (the join string carries the cluster key). Codes and sessions
 * live their time to live on the steady clock (src/util/clock.ts): a wall-clock step neither expires nor
 * extends one.
 */
import { performance } from 'node:perf_hooks'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiServer } from '../../src/api/index.js'
import { SessionStore } from '../../src/api/sessions.js'
import { LOGIN_CODE_TTL_MS, SESSION_TTL_MS } from '../../src/api/constants.js'
import { silentLogger } from '../../src/log/index.js'
import { DashboardService } from '../../src/dashboard/index.js'
import type { ServiceContext } from '../../src/node/service.js'

const TOKEN = 'sekret-token'
const servers: ApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await s.close() }))
})

const dashboards: DashboardService[] = []
afterEach(async () => {
  await Promise.all(dashboards.splice(0).map(async (d) => { await d.stop() }))
})

/** The admin API with the real dashboard routes (over no layers) and stand-ins for other GET routes. */
async function server (): Promise<string> {
  const s = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
  s.app.get('/v1/status', async () => ({ ok: true }))
  s.app.get('/v1/join-string', async () => ({ joinString: 'revoada1:secret-cluster-key' }))
  s.app.get('/v1/chain/export', async () => 'chain bytes')
  s.app.get('/v1/content/:cid/data', async () => 'content bytes')
  s.app.post('/v1/proposals', async () => ({ proposed: true }))
  const dashboard = new DashboardService({ nowMs: () => 1_000 })
  const ctx = { nodeId: 'n1', cluster: { clusterId: 'c1' }, service: () => undefined } as unknown as ServiceContext
  await dashboard.start(ctx)
  dashboard.routes(s.app)
  dashboards.push(dashboard)
  servers.push(s)
  return await s.listen()
}

/** The status of `GET path` with `headers`; the body is cancelled (the event stream never ends). */
async function statusOf (url: string, path: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${url}${path}`, { headers })
  await res.body?.cancel()
  return res.status
}

async function loginLink (url: string): Promise<string> {
  const res = await fetch(`${url}/v1/login-links`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
  expect(res.status).toBe(200)
  return ((await res.json()) as { url: string }).url
}

function cookieOf (res: Response): string {
  const header = res.headers.get('set-cookie')
  expect(header).toMatch(/^revoada_session_\d+=[A-Za-z0-9_-]+; HttpOnly; SameSite=Strict; Path=\//)
  return (header as string).split(';')[0] as string
}

describe('dashboard login', () => {
  it('should refuse to mint a login link without the admin token', async () => {
    const url = await server()
    expect((await fetch(`${url}/v1/login-links`, { method: 'POST' })).status).toBe(401)
  })

  it('should trade a code for a session cookie once, and redirect to a URL without secrets', async () => {
    const url = await server()
    const link = await loginLink(url)
    expect(link).not.toContain(TOKEN)
    const first = await fetch(link, { redirect: 'manual' })
    expect(first.status).toBe(303)
    expect(first.headers.get('location')).toBe('/dashboard')
    const cookie = cookieOf(first)
    const again = await fetch(link, { redirect: 'manual' })
    expect(again.status).toBe(401)
    expect(again.headers.get('set-cookie')).toBeNull()
    expect(await statusOf(url, '/dashboard', { cookie })).toBe(200)
  })

  it('should not spend the code on a HEAD request (a link previewer\'s)', async () => {
    const url = await server()
    const link = await loginLink(url)
    const head = await fetch(link, { method: 'HEAD', redirect: 'manual' })
    expect(head.status).toBe(200)
    expect(head.headers.get('set-cookie')).toBeNull()
    const first = await fetch(link, { redirect: 'manual' })
    expect(first.status).toBe(303)
    expect(await statusOf(url, '/dashboard', { cookie: cookieOf(first) })).toBe(200)
  })

  it('should open only the dashboard page, its stylesheet, its script and its event stream to the session cookie', async () => {
    const url = await server()
    const cookie = cookieOf(await fetch(await loginLink(url), { redirect: 'manual' }))
    const page = await fetch(`${url}/dashboard`, { headers: { cookie } })
    expect(page.status).toBe(200)
    // The URLs the page itself loads (src/dashboard/page.ts): anything else it needed would now fail.
    const html = await page.text()
    expect(html).toContain('<script src="/dashboard/app.js"></script>')
    expect(html).toContain('<link rel="stylesheet" href="/dashboard/app.css">')
    expect([...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]).sort()).toEqual(['/dashboard/app.css', '/dashboard/app.js'])
    expect((await fetch(`${url}/dashboard/app.css`, { headers: { cookie } })).status).toBe(200)
    const script = await fetch(`${url}/dashboard/app.js`, { headers: { cookie } })
    expect(script.status).toBe(200)
    // It opens the stream, and fetches the same route to learn why a stream was refused (a 401: the session ended).
    const loads = [...(await script.text()).matchAll(/(fetch|EventSource)\('([^']*)'/g)].map((m) => `${m[1] as string} ${m[2] as string}`)
    expect(loads.sort()).toEqual(['EventSource /v1/events', 'fetch /v1/events'])
    const events = await fetch(`${url}/v1/events`, { headers: { cookie } })
    expect(events.status).toBe(200)
    expect(events.headers.get('content-type')).toBe('text/event-stream')
    await events.body?.cancel()
    for (const path of ['/v1/join-string', '/v1/chain/export', '/v1/content/bafy/data', '/v1/status', '/v1/dashboard/state', '/v1/nothing']) {
      expect({ path, status: await statusOf(url, path, { cookie }) }).toEqual({ path, status: 401 })
    }
    // The admin token still opens them all.
    for (const path of ['/v1/join-string', '/v1/dashboard/state', '/dashboard']) {
      expect({ path, status: await statusOf(url, path, { authorization: `Bearer ${TOKEN}` }) }).toEqual({ path, status: 200 })
    }
  })

  it('should accept the session cookie for GET only, and refuse forged cookies', async () => {
    const url = await server()
    const cookie = cookieOf(await fetch(await loginLink(url), { redirect: 'manual' }))
    const post = await fetch(`${url}/v1/proposals`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' })
    expect(post.status).toBe(401)
    const forged = cookie.replace(/=.*/, '=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
    expect(await statusOf(url, '/dashboard', { cookie: forged })).toBe(401)
    expect((await fetch(`${url}/login?code=made-up`, { redirect: 'manual' })).status).toBe(401)
  })

  it('should expire an unspent code after its time to live', () => {
    let now = 1_000_000
    const store = new SessionStore(() => now)
    const code = store.mintLoginCode()
    now += LOGIN_CODE_TTL_MS
    expect(store.redeem(code)).toBeUndefined()
    const fresh = store.mintLoginCode()
    const session = store.redeem(fresh)
    expect(session).toBeDefined()
    expect(store.validCookie(`other=1; revoada_session_1234=${session as string}`)).toBe(true)
    expect(store.validCookie(`revoada_session_1234=${fresh}`)).toBe(false)
  })
})

/**
 * Method: the store's default clock, with the wall clock (`Date.now`, spied on before the store is made: a
 * default clock is taken at construction) stepped; where time must also pass, the monotonic clock the steady
 * one advances with (`performance.now`) is moved on too. The steady clock took its anchor at import, so a step
 * of the wall clock does not reach it.
 */
describe('SessionStore on a stepped wall clock', () => {
  const HOUR_MS = 60 * 60_000
  const realNow = Date.now.bind(Date)
  const realMonotonicNow = performance.now.bind(performance)
  let elapsedMs = 0
  let wallStepMs = 0
  beforeEach(() => {
    elapsedMs = 0
    wallStepMs = 0
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + elapsedMs + wallStepMs)
    vi.spyOn(performance, 'now').mockImplementation(() => realMonotonicNow() + elapsedMs)
  })
  afterEach(() => { vi.restoreAllMocks() })

  /** `elapsed` ms passed since the test began while the wall clock took a step of `step` ms. */
  function pass (elapsed: number, step: number): void {
    elapsedMs = elapsed
    wallStepMs = step
  }

  it('should expire neither a fresh login code nor a fresh session when the wall clock steps forward past their time to live', () => {
    const store = new SessionStore()
    const code = store.mintLoginCode()
    const session = store.redeem(store.mintLoginCode()) as string
    pass(0, SESSION_TTL_MS + HOUR_MS)
    expect(store.validCookie(`revoada_session_1234=${session}`)).toBe(true)
    expect(store.redeem(code)).toBeDefined()
  })

  it('should extend neither a login code nor a session when the wall clock steps back an hour', () => {
    const store = new SessionStore()
    const code = store.mintLoginCode()
    const session = store.redeem(store.mintLoginCode()) as string
    // A code's time to live passes, the wall clock showing 55 minutes less than when it was minted.
    pass(LOGIN_CODE_TTL_MS, -HOUR_MS)
    expect(store.redeem(code)).toBeUndefined()
    expect(store.validCookie(`revoada_session_1234=${session}`)).toBe(true)
    // A session's time to live passes, the wall clock showing 11 hours.
    pass(SESSION_TTL_MS, -HOUR_MS)
    expect(store.validCookie(`revoada_session_1234=${session}`)).toBe(false)
  })
})
