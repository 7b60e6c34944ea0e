/**
 * Admin API: bearer token required, loopback-only unless allowed.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ApiServer, isLoopbackHost } from '../../src/api/index.js'
import { silentLogger } from '../../src/log/index.js'
import { loadConfig } from '../../src/config/index.js'

const servers: ApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await s.close() }))
})

async function server (): Promise<string> {
  const s = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: 'sekret-token', log: silentLogger() })
  s.app.get('/v1/status', async () => ({ ok: true }))
  servers.push(s)
  return await s.listen()
}

describe('ApiServer', () => {
  it('should answer 401 when the token is missing or wrong', async () => {
    const url = await server()
    expect((await fetch(`${url}/v1/status`)).status).toBe(401)
    expect((await fetch(`${url}/v1/status`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    expect((await fetch(`${url}/v1/nope`)).status).toBe(401)
  })

  it('should answer when the bearer token is right', async () => {
    const url = await server()
    const res = await fetch(`${url}/v1/status`, { headers: { authorization: 'Bearer sekret-token' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
  })

  it('should refuse to bind a non-loopback host unless allowed', () => {
    expect(() => new ApiServer({ host: '0.0.0.0', port: 0, allowNonLoopback: false, token: 't', log: silentLogger() }))
      .toThrow(expect.objectContaining({ name: 'ApiBindRefusedError' }))
    expect(isLoopbackHost('127.0.0.2')).toBe(true)
    expect(isLoopbackHost('::1')).toBe(true)
    expect(isLoopbackHost('10.0.0.1')).toBe(false)
  })

  it('should answer a path fastify cannot decode in the API\'s one error shape', async () => {
    const url = await server()
    // A bad percent-encoding fails fastify's router before any hook or handler (FST_ERR_BAD_URL).
    const res = await fetch(`${url}/v1/content/%ZZ`, { headers: { authorization: 'Bearer sekret-token' } })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'BadRequest', message: expect.stringContaining('/v1/content/%ZZ') })
  })

  it('should bind ::1 when the config file gives it in brackets, as the metrics listener and isLoopbackHost take it', async () => {
    // `api.host` written as in `metrics.listen` ([::1]:9101): getaddrinfo knows no "[::1]".
    const config = loadConfig({ flags: { api: { host: '[::1]', port: 0 } } })
    expect(config.api.host).toBe('::1')
    const s = new ApiServer({ ...config.api, token: 'sekret-token', log: silentLogger() })
    s.app.get('/v1/status', async () => ({ ok: true }))
    servers.push(s)
    const url = await s.listen()
    expect(url).toMatch(/^http:\/\/\[::1\]:\d+$/)
    expect((await fetch(`${url}/v1/status`, { headers: { authorization: 'Bearer sekret-token' } })).status).toBe(200)
  })
})
