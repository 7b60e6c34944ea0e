/**
 * libp2p's connection monitor pings every connection and, by default, aborts one whose ping is not answered
 * in time. It judges by this node's own clock: a node that did not run for a second (a starved CPU) found
 * every ping late and aborted every connection at once, then paid a handshake per peer to reconnect
 * (issue 16: a forming 25-node cluster on 2 cores lost its leader's connections every 10–20 s). Now an
 * unanswered ping closes nothing; membership, which excuses its own stalls, closes a suspect member's
 * connection (test/net/leave-detection.test.ts).
 */
import path from 'node:path'
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { Stream } from '@libp2p/interface'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const nodes: RevoadaNode[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('connection monitor', () => {
  it('should keep a connection whose pings go unanswered', async () => {
    const root = await tempDir()
    dirs.push(root)
    // Pings every 200 ms, each given 100 ms: many unanswered pings within a second.
    const net = { pingIntervalMs: 200, pingTimeoutMs: 100 }
    const silent = await startNode({ config: testConfig(path.join(root, 'silent'), { net }), services: [] })
    nodes.push(silent)
    // The silent node takes ping streams and never answers them (a peer that is slow, or a pinger that stalled).
    let pingsReceived = 0
    const held: Stream[] = []
    await silent.net.unhandle(PING_PROTOCOL)
    await silent.net.handle(PING_PROTOCOL, (stream) => { pingsReceived++; held.push(stream) }, { maxInboundStreams: 64 })
    const pinger = await startNode({ config: testConfig(path.join(root, 'pinger'), { join: silent.joinString(), net }), services: [] })
    nodes.push(pinger)
    await waitFor(() => pinger.net.getConnections(silent.net.peerId).length > 0, 10_000, 'connected')
    const [connection] = pinger.net.getConnections(silent.net.peerId)
    await waitFor(() => pingsReceived >= 4, 20_000, 'four unanswered pings')
    // The same connection, still open: no ping failure closed it (a redial would be a new one).
    expect(pinger.net.getConnections(silent.net.peerId).map((c) => c.id)).toContain(connection!.id)
    expect(connection!.status).toBe('open')
    for (const stream of held) stream.abort(new Error('test over'))
  })
})
