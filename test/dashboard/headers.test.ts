/**
 * Goal: every answer of the admin API a browser may see carries `x-content-type-options: nosniff` and
 * `referrer-policy: no-referrer` — the dashboard page, its script, its event stream (hijacked, so it sets its
 * own), the login redirect and refusals — and the page itself a CSP that runs no inline script, allows no
 * `<base>` or form target and no framing. Before, only the page had a CSP and X-Frame-Options: an error text
 * could be sniffed as HTML, and nothing told the browser to send no Referer from the page.
 * Method: the admin API with the real dashboard routes on port 0, read by fetch and a plain HTTP client.
 */
import http from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiServer } from '../../src/api/index.js'
import { silentLogger } from '../../src/log/index.js'
import { DashboardService } from '../../src/dashboard/index.js'
import type { ServiceContext } from '../../src/node/service.js'

const TOKEN = 'sekret-token'
const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0).reverse()) await close() })

async function server (): Promise<string> {
  const api = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
  const dashboard = new DashboardService({ nowMs: () => 1_000 })
  const ctx = { nodeId: 'n1', cluster: { clusterId: 'c1' }, service: () => undefined } as unknown as ServiceContext
  await dashboard.start(ctx)
  dashboard.routes(api.app)
  closers.push(async () => { await dashboard.stop() }, async () => { await api.close() })
  return await api.listen()
}

/** The event stream's response headers (the stream itself is closed at once). */
async function streamHeaders (url: string, cookie: string): Promise<http.IncomingHttpHeaders> {
  return await new Promise((resolve, reject) => {
    const request = http.get(`${url}/v1/events`, { headers: { cookie } }, (res) => {
      resolve(res.headers)
      request.destroy()
    })
    request.on('error', reject)
  })
}

function expectBrowserHeaders (headers: { get: (name: string) => string | null }, what: string): void {
  expect(headers.get('x-content-type-options'), what).toBe('nosniff')
  expect(headers.get('referrer-policy'), what).toBe('no-referrer')
}

describe('dashboard response headers', () => {
  it('should send nosniff and no-referrer on every answer a browser sees, and a strict CSP on the page', async () => {
    const url = await server()
    const link = await fetch(`${url}/v1/login-links`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
    expectBrowserHeaders(link.headers, 'POST /v1/login-links')
    const login = await fetch(((await link.json()) as { url: string }).url, { redirect: 'manual' })
    expect(login.status).toBe(303)
    expectBrowserHeaders(login.headers, 'the login redirect')
    const cookie = (login.headers.get('set-cookie') as string).split(';')[0] as string

    const page = await fetch(`${url}/dashboard`, { headers: { cookie } })
    expect(page.status).toBe(200)
    expectBrowserHeaders(page.headers, 'GET /dashboard')
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    const csp = (page.headers.get('content-security-policy') ?? '').split(';').map((d) => d.trim())
    expect(csp).toEqual(expect.arrayContaining(["default-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"]))
    // Inline script, handlers and inline style stay blocked: nothing widens script-src or style-src beyond
    // default-src 'self' (the page's style is a file of its own).
    expect(csp.some((d) => d.startsWith('script-src') || d.startsWith('style-src') || d.includes('unsafe'))).toBe(false)

    const style = await fetch(`${url}/dashboard/app.css`, { headers: { cookie } })
    expect(style.status).toBe(200)
    expect(style.headers.get('content-type')).toMatch(/^text\/css/)
    expectBrowserHeaders(style.headers, 'GET /dashboard/app.css')

    const script = await fetch(`${url}/dashboard/app.js`, { headers: { cookie } })
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/)
    expectBrowserHeaders(script.headers, 'GET /dashboard/app.js')

    const stream = await streamHeaders(url, cookie)
    expect(stream['content-type']).toBe('text/event-stream')
    expectBrowserHeaders({ get: (name) => stream[name] as string | undefined ?? null }, 'GET /v1/events')

    const refusedLogin = await fetch(`${url}/login?code=spent`)
    expect(refusedLogin.status).toBe(401)
    expectBrowserHeaders(refusedLogin.headers, 'a refused login')
    const refused = await fetch(`${url}/v1/status`, { headers: { cookie } })
    expect(refused.status).toBe(401)
    expectBrowserHeaders(refused.headers, 'a route the cookie does not open')
    expectBrowserHeaders((await fetch(`${url}/nowhere`, { headers: { authorization: `Bearer ${TOKEN}` } })).headers, 'a 404')
  })
})
