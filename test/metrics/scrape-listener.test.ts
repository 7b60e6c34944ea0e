/**
 * The scrape-only listener (metrics.listen) faces whoever reaches its port, before any token is checked: a
 * request must be answered, never end the process. Method: raw HTTP/1.1 requests over a socket, so the request
 * target can be one that fetch() would never send.
 */
import { connect, createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ScrapeListener } from '../../src/metrics/scrape-listener.js'
import { NodeMetrics } from '../../src/metrics/registry.js'
import type { Socket } from 'node:net'
import { loadConfig } from '../../src/config/index.js'
import { SCRAPE_CONNECTIONS_MAX } from '../../src/metrics/constants.js'
import { capturingLogger, waitFor } from '../node/helpers.js'

let listener: ScrapeListener | undefined
afterEach(async () => {
  await listener?.close()
  listener = undefined
})

/** Sends `request` as is and returns the status line of the answer, `closed`, or `no answer` within 3 s. */
async function rawRequest (url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => { socket.write(request) })
    let answer = ''
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1')
      if (answer.includes('\r\n')) { socket.destroy(); resolve(answer.slice(0, answer.indexOf('\r\n'))) }
    })
    socket.on('error', reject)
    socket.setTimeout(3000, () => { socket.destroy(); resolve('no answer') })
    socket.on('close', () => { resolve('closed') })
  })
}

describe('ScrapeListener', () => {
  it('should answer 400 and log it when the request target does not parse as a URL, and keep serving', async () => {
    const { log, lines } = capturingLogger('debug')
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
    process.on('unhandledRejection', onUnhandled)
    try {
      listener = new ScrapeListener({ host: '127.0.0.1', port: 0, token: 'scrape-token-0123456789', metrics: new NodeMetrics(), log })
      const url = await listener.listen()
      // An absolute-form target with a broken host: the HTTP parser takes it, WHATWG URL does not.
      expect(await rawRequest(url, 'GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n')).toBe('HTTP/1.1 400 Bad Request')
      expect(unhandled).toEqual([])
      expect(lines.some((l) => l.msg === 'scrape request refused: its target is no URL')).toBe(true)
      // Still serving: the next scraper gets its answer.
      expect(await rawRequest(url, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')).toBe('HTTP/1.1 401 Unauthorized')
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('should refuse a taken address with MetricsListenInUseError naming metrics.listen', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    try {
      const port = (taken.address() as { port: number }).port
      listener = new ScrapeListener({ host: '127.0.0.1', port, token: undefined, metrics: new NodeMetrics(), log: capturingLogger().log })
      await expect(listener.listen()).rejects.toMatchObject({
        name: 'MetricsListenInUseError', message: expect.stringContaining(`127.0.0.1:${port} (metrics.listen) is already in use`)
      })
      listener = undefined
    } finally {
      await new Promise((resolve) => taken.close(resolve))
    }
  })

  it('should refuse in the config a scrape token an HTTP header cannot carry (surrounding whitespace, control characters)', async () => {
    const token = 'scrape-token-0123456789\n'
    // What the listener makes of it: the HTTP parser trims the header value, so the exact token sent is refused.
    listener = new ScrapeListener({ host: '127.0.0.1', port: 0, token, metrics: new NodeMetrics(), log: capturingLogger().log })
    const url = await listener.listen()
    const request = `GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token.trim()} \r\n\r\n`
    expect(await rawRequest(url, request)).toBe('HTTP/1.1 401 Unauthorized')
    for (const bad of [token, ' scrape-token-0123456789', 'scrape-token-\u00010123456789']) {
      expect(() => loadConfig({ flags: { metrics: { listen: '127.0.0.1:0', token: bad } } }))
        .toThrow(expect.objectContaining({ name: 'ConfigInvalidError', message: expect.stringContaining('metrics.token') }))
    }
    expect(loadConfig({ flags: { metrics: { listen: '127.0.0.1:0', token: 'scrape-token-0123456789' } } }).metrics?.token).toBe('scrape-token-0123456789')
  })

  it('should hold at most SCRAPE_CONNECTIONS_MAX connections, dropping one more at once, and serve again once they close', async () => {
    listener = new ScrapeListener({ host: '127.0.0.1', port: 0, token: undefined, metrics: new NodeMetrics(), log: capturingLogger().log })
    const { hostname, port } = new URL(await listener.listen())
    const open = async (): Promise<Socket> => await new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => { resolve(socket) })
      socket.on('error', reject)
    })
    // Idle connections that send nothing: each is held until the headers timeout (10 s).
    const idle: Socket[] = []
    let extra: Socket | undefined
    try {
      for (let i = 0; i < SCRAPE_CONNECTIONS_MAX; i++) idle.push(await open())
      extra = await open()
      let closed = false
      extra.on('close', () => { closed = true })
      await waitFor(() => closed, 5000, 'the connection over the limit to be dropped')
      expect(idle.every((socket) => !socket.destroyed)).toBe(true)
    } finally {
      for (const socket of [...idle, extra]) socket?.destroy()
    }
    // A connection made before the listener saw the others close is dropped too (and fetch waits on it): retry.
    const scrape = async (): Promise<boolean> => await fetch(`http://${hostname}:${port}/metrics`, { signal: AbortSignal.timeout(500) })
      .then((res) => res.status === 200, () => false)
    await waitFor(scrape, 5000, 'a scrape to be served')
  })
})
