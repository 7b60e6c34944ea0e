/**
 * Goal: how the node ends a dashboard event stream. A client that stops reading is dropped once more than
 * SSE_CLIENT_BUFFER_BYTES_MAX is queued for it, with a log line, so a stalled browser tab holds a bounded amount
 * of the node's memory while a reading client goes on; and a node that stops sends each stream a `stopping`
 * event before ending it, so the page says the node is stopping rather than that the stream broke.
 * Method: the admin API with the real event stream on port 0; a plain HTTP client that pauses its socket.
 */
import http from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiServer } from '../../src/api/index.js'
import { silentLogger } from '../../src/log/index.js'
import { EventStream } from '../../src/dashboard/event-stream.js'
import { SSE_CLIENT_BUFFER_BYTES_MAX } from '../../src/dashboard/constants.js'
import type { Logger } from '../../src/log/index.js'
import { capturingLogger, waitFor } from '../node/helpers.js'

const TOKEN = 'sekret-token'
const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0).reverse()) await close() })

async function server (render: () => string, log: Logger = silentLogger()): Promise<{ url: string, stream: EventStream }> {
  const api = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
  const stream = new EventStream(render)
  stream.start(log)
  stream.routes(api.app)
  closers.push(async () => { stream.close() }, async () => { await api.close() })
  return { url: await api.listen(), stream }
}

/** A stream opened with the token; `read: false` pauses the socket once the headers came. */
async function open (url: string, read: boolean): Promise<{ text: () => string, ended: Promise<void> }> {
  return await new Promise((resolve, reject) => {
    let text = ''
    const request = http.get(`${url}/v1/events`, { headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      const ended = new Promise<void>((resolve) => { res.on('end', resolve); res.on('close', resolve) })
      res.setEncoding('utf8')
      if (read) res.on('data', (chunk: string) => { text += chunk })
      else res.pause()
      resolve({ text: () => text, ended })
    })
    request.on('error', reject)
    closers.push(async () => { request.destroy() })
  })
}

describe('dashboard event stream ends', () => {
  it('should drop a client that stops reading once its unsent bytes pass the bound, and keep a reading one', async () => {
    const { log, lines } = capturingLogger('info')
    let version = 0
    // Each state differs (so each is pushed) and weighs 256 KiB: the kernel's socket buffers fill within tens.
    const filler = 'x'.repeat(256 * 1024)
    const { url, stream } = await server(() => `{"v":${version},"f":"${filler}"}`, log)
    const reader = await open(url, true)
    await open(url, false)
    await waitFor(() => stream.clientCount === 2, 5_000, 'two streams open')
    // At most 256 states (64 MiB) pushed: far more than socket buffers and the bound hold.
    for (let i = 0; i < 256 && stream.clientCount === 2; i++) {
      version++
      stream.poke()
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(stream.clientCount).toBe(1)
    const drop = lines.find((l) => String(l.msg).startsWith('dashboard event stream dropped'))
    expect(drop).toBeDefined()
    expect(drop?.unsentBytesMax).toBe(SSE_CLIENT_BUFFER_BYTES_MAX)
    // (The stalled client cannot see its end: a paused socket reads no FIN.) The reader goes on receiving.
    const before = reader.text().length
    version++
    stream.poke()
    await waitFor(() => reader.text().length > before, 5_000, 'the reading client to get the next state')
  }, 30_000)

  it('should send a stopping event before it ends the streams of a stopping node', async () => {
    const { url, stream } = await server(() => '{"v":1}')
    const client = await open(url, true)
    await waitFor(() => client.text().includes('event: state'), 5_000, 'the first state')
    stream.close()
    await client.ended
    expect(client.text().endsWith('event: stopping\ndata: {}\n\n')).toBe(true)
  })
})
