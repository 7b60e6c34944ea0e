/**
 * The transport's per-peer state is bounded by the peers it has work or a stream for, and stop() releases the
 * inbound streams as well as the outbound ones. Goal: a node made to send to many ids (answers to as many made-up
 * identities as a key holder signs with) keeps no entry for one whose dial failed and whose queue is empty; a
 * stopped transport leaves no raft stream open on its connections. Method: two real libp2p nodes over TCP, the
 * transport's link count read after the failed dials' retry timers ran, and the raft streams of the connection
 * looked at on both ends after the receiver stopped.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { RaftTransport } from '../../../src/consensus/transport/raft-transport.js'
import { RAFT_PROTOCOL } from '../../../src/consensus/transport/wire.js'
import { MessageType } from '../../../src/consensus/core/types.js'
import type { Message } from '../../../src/consensus/core/types.js'
import { waitFor } from '../../node/helpers.js'

const quiet = { info: () => {}, warn: () => {}, debug: () => {} }

function heartbeat (from: string, to: string): Message {
  return { type: MessageType.Heartbeat, from, to, term: 3, index: 0, logTerm: 0, commit: 1, reject: false, rejectHint: 0, entries: [] }
}

async function node (): Promise<Libp2p> {
  return await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
}

function raftStreams (from: Libp2p, to: Libp2p): number {
  return from.getConnections(to.peerId).flatMap((c) => c.streams).filter((s) => s.protocol === RAFT_PROTOCOL && s.status === 'open').length
}

describe('RaftTransport links and stop', () => {
  const started: Array<{ stop: () => Promise<void> | void }> = []
  afterEach(async () => { for (const s of started.splice(0).reverse()) await s.stop() })

  it('should forget a peer whose dial failed once nothing is queued for it, and keep a peer with an open stream', async () => {
    const [a, b] = [await node(), await node()]
    started.push(a, b)
    await a.dial(b.getMultiaddrs()[0]!)
    const ta = new RaftTransport({ libp2p: a, isMember: () => true, log: quiet })
    const tb = new RaftTransport({ libp2p: b, isMember: () => true, log: quiet })
    await ta.start(); await tb.start()
    started.push(ta, tb)
    let received = 0
    tb.setHandler(() => { received++ })
    const from = a.peerId.toString()
    ta.send(heartbeat(from, b.peerId.toString()))
    await waitFor(() => received === 1, 10_000, 'the live peer served')
    // Made-up identities: no address is known for any of them, so each dial fails at once.
    const madeUp = await Promise.all(Array.from({ length: 50 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
    for (const id of madeUp) ta.send(heartbeat(from, id))
    expect(ta.linkCount()).toBe(51)
    await waitFor(() => ta.counters().droppedSendError >= madeUp.length, 10_000, 'the dials to made-up ids failed')
    await waitFor(() => ta.linkCount() === 1, 5_000, 'the failed links forgotten once their retry found nothing queued')
    // The live peer keeps its link and stream.
    ta.send(heartbeat(from, b.peerId.toString()))
    await waitFor(() => received === 2, 10_000, 'the live peer still served')
    expect(ta.linkCount()).toBe(1)
  })

  it('should close its inbound streams when stopped', async () => {
    const [a, b] = [await node(), await node()]
    started.push(a, b)
    await a.dial(b.getMultiaddrs()[0]!)
    const ta = new RaftTransport({ libp2p: a, isMember: () => true, log: quiet })
    const tb = new RaftTransport({ libp2p: b, isMember: () => true, log: quiet })
    await ta.start(); await tb.start()
    started.push(ta)
    let received = 0
    tb.setHandler(() => { received++ })
    ta.send(heartbeat(a.peerId.toString(), b.peerId.toString()))
    await waitFor(() => received === 1, 10_000, 'a message delivered')
    expect(raftStreams(b, a)).toBe(1)
    await tb.stop()
    await waitFor(() => raftStreams(b, a) === 0 && raftStreams(a, b) === 0, 5_000, 'the raft stream closed on both ends')
    // Closed by the stop, not failed: nothing counted or logged as a stream error.
    expect(tb.counters().inboundStreamErrors).toBe(0)
    // The connection itself stays (other protocols use it).
    expect(a.getConnections(b.peerId).length).toBeGreaterThan(0)
  })
})
