/**
 * Goal: a stream's first state is the node's current one. The stream kept the last state it pushed and gave it
 * to every new client first; once every stream had closed, nothing refreshed it, so a page opened later showed
 * a state from the last time anyone watched — as live — until the next push half a second on.
 * Method: the admin API with the real event stream on port 0; a plain HTTP client reads the first event.
 */
import http from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiServer } from '../../src/api/index.js'
import { silentLogger } from '../../src/log/index.js'
import { EventStream } from '../../src/dashboard/event-stream.js'
import { waitFor } from '../node/helpers.js'

const TOKEN = 'sekret-token'
const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0).reverse()) await close() })

/** The data of the first `state` event of a new stream, and a way to close it. */
async function firstState (url: string): Promise<{ state: string, close: () => void }> {
  return await new Promise((resolve, reject) => {
    let text = ''
    const request = http.get(`${url}/v1/events`, { headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
        const event = /event: state\ndata: (.*)\n\n/.exec(text)
        if (event !== null) resolve({ state: event[1] as string, close: () => { request.destroy() } })
      })
    })
    request.on('error', reject)
    closers.push(async () => { request.destroy() })
  })
}

describe('dashboard event stream first state', () => {
  it('should give a new stream the current state, not the one pushed when a stream was last open', async () => {
    const api = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
    let version = 1
    const stream = new EventStream(() => `{"v":${version}}`)
    stream.start(silentLogger())
    stream.routes(api.app)
    closers.push(async () => { stream.close() }, async () => { await api.close() })
    const url = await api.listen()
    const first = await firstState(url)
    expect(first.state).toBe('{"v":1}')
    // A push while it is open (every layer event makes one) leaves that state as the last pushed.
    stream.poke()
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    first.close()
    await waitFor(() => stream.clientCount === 0, 5_000, 'the first stream to close')
    version = 2
    expect((await firstState(url)).state).toBe('{"v":2}')
  })
})
