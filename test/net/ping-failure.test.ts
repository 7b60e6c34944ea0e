/**
 * libp2p's connection monitor pings every connection and aborts one whose ping is not answered in time,
 * judged by this node's own clock. With a 1 s timeout a node that did not run for a second (a starved CPU)
 * found every ping late and aborted every connection at once, then paid a handshake per peer to reconnect
 * (issue 16: a forming 25-node cluster on 2 cores lost its leader's connections every 10–20 s). The default
 * timeout is now 10 s: a ping unanswered for 3 s closes nothing.
 */
import path from 'node:path'
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { Stream } from '@libp2p/interface'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { DEFAULT_PING_TIMEOUT_MS } from '../../src/config/constants.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
/** How long a ping goes unanswered (three times the old 1 s timeout). */
const ANSWER_DELAY_MS = 3000
const nodes: RevoadaNode[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('connection monitor', () => {
  it('should keep a connection whose ping has gone 3 s without an answer', async () => {
    const root = await tempDir()
    dirs.push(root)
    // The default timeout; pings 4 s apart, so no second ping meets the first still in flight (refused: also an abort).
    const net = { pingIntervalMs: 4000, pingTimeoutMs: DEFAULT_PING_TIMEOUT_MS }
    const slow = await startNode({ config: testConfig(path.join(root, 'slow'), { net }), services: [] })
    nodes.push(slow)
    // The slow node takes ping streams and does not answer (a peer, or a pinger, that stalled).
    let firstPingAt: number | undefined
    const held: Stream[] = []
    await slow.net.unhandle(PING_PROTOCOL)
    await slow.net.handle(PING_PROTOCOL, (stream: Stream) => { firstPingAt ??= Date.now(); held.push(stream) }, { maxInboundStreams: 64 })
    const pinger = await startNode({ config: testConfig(path.join(root, 'pinger'), { join: slow.joinString(), net }), services: [] })
    nodes.push(pinger)
    await waitFor(() => pinger.net.getConnections(slow.net.peerId).length > 0, 10_000, 'connected')
    const [connection] = pinger.net.getConnections(slow.net.peerId)
    await waitFor(() => firstPingAt !== undefined && Date.now() - firstPingAt >= ANSWER_DELAY_MS, 20_000, 'a ping unanswered for 3 s')
    // The same connection, still open: the late ping closed nothing (a redial would be a new one).
    expect(pinger.net.getConnections(slow.net.peerId).map((c) => c.id)).toContain(connection!.id)
    expect(connection!.status).toBe('open')
    for (const stream of held) stream.abort(new Error('test over'))
  })
})
