/**
 * Goal: the dashboard's event stream wakes the node only while someone watches (issue 16: its 500 ms push
 * timer ran on every node, with no client almost always, for nothing), and still pushes while one does.
 * Method: the real route on a fastify server on port 0, one HTTP client connected and then gone.
 */
import http from 'node:http'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { EventStream } from '../../src/dashboard/event-stream.js'
import { waitFor } from '../node/helpers.js'

describe('dashboard event stream timers', () => {
  const closers: Array<() => Promise<void>> = []
  afterEach(async () => { for (const close of closers.splice(0)) await close() })

  it('should run its push timer only while a client is connected', async () => {
    let state = 0
    const stream = new EventStream(() => JSON.stringify({ state }))
    const app = Fastify()
    stream.routes(app)
    stream.start()
    await app.listen({ host: '127.0.0.1', port: 0 })
    closers.push(async () => { await app.close() })
    expect(stream.timersRunning).toBe(false)

    const address = app.server.address() as { port: number }
    let received = ''
    const request = http.get({ host: '127.0.0.1', port: address.port, path: '/v1/events' }, (res) => {
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { received += chunk })
    })
    request.on('error', () => {})
    await waitFor(() => received.includes('"state":0'), 5_000, 'the first state event')
    expect(stream.timersRunning).toBe(true)
    // A change is pushed by the timer while the client listens.
    state = 1
    await waitFor(() => received.includes('"state":1'), 5_000, 'the changed state pushed')

    request.destroy()
    await waitFor(() => stream.clientCount === 0, 5_000, 'the client gone')
    expect(stream.timersRunning).toBe(false)
  })
})
