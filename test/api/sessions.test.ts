/**
 * Dashboard sessions: a one-time login code (minted with the admin token) becomes a GET-only session
 * cookie; the code works once; the cookie never opens a state-changing request.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ApiServer } from '../../src/api/index.js'
import { SessionStore } from '../../src/api/sessions.js'
import { LOGIN_CODE_TTL_MS } from '../../src/api/constants.js'
import { silentLogger } from '../../src/log/index.js'

const TOKEN = 'sekret-token'
const servers: ApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await s.close() }))
})

async function server (): Promise<string> {
  const s = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
  s.app.get('/v1/status', async () => ({ ok: true }))
  s.app.post('/v1/proposals', async () => ({ proposed: true }))
  servers.push(s)
  return await s.listen()
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
    expect((await fetch(`${url}/v1/status`, { headers: { cookie } })).status).toBe(200)
  })

  it('should accept the session cookie for GET only, and refuse forged cookies', async () => {
    const url = await server()
    const cookie = cookieOf(await fetch(await loginLink(url), { redirect: 'manual' }))
    const post = await fetch(`${url}/v1/proposals`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' })
    expect(post.status).toBe(401)
    const forged = cookie.replace(/=.*/, '=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
    expect((await fetch(`${url}/v1/status`, { headers: { cookie: forged } })).status).toBe(401)
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
