/**
 * The Raft wire codec and the libp2p stream transport (issue 6 item 1).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { lpStream } from '@libp2p/utils'
import { encode } from '@ipld/dag-cbor'
import { RaftTransport, MAX_QUEUED_MESSAGES_PER_PEER } from '../../../src/consensus/transport/raft-transport.js'
import { decodeFrame, encodeFrame, FRAME_ITEMS_MAX, MAX_FRAME_BYTES, RAFT_PROTOCOL } from '../../../src/consensus/transport/wire.js'
import { EntryType, MessageType } from '../../../src/consensus/core/types.js'
import type { Message } from '../../../src/consensus/core/types.js'
import type { Logger } from '../../../src/consensus/raft-node.js'
import { waitFor } from '../../node/helpers.js'

const quiet = { info: () => {}, warn: () => {}, debug: () => {} }

function message (from: string, to: string, n: number, bytes = 8): Message {
  return {
    type: MessageType.App, from, to, term: 3, index: n, logTerm: 2, commit: 1, reject: false, rejectHint: 0,
    entries: [{ index: n + 1, term: 3, type: EntryType.Normal, data: new Uint8Array(bytes).fill(n % 256), proposalId: { clientId: 'c', seq: n } }]
  }
}

async function node (): Promise<Libp2p> {
  return await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
}

describe('raft wire codec', () => {
  it('should round-trip every field and reject malformed frames with a typed error', () => {
    const m: Message = { ...message('a', 'b', 5), snapshotMeta: { index: 9, term: 2, confState: { voters: ['a'], votersOutgoing: [], learners: ['b'], learnersNext: [], autoLeave: false } }, snapshotChunk: new Uint8Array([1, 2]), snapshotOffset: 4, snapshotDone: true, context: new Uint8Array([9]), force: true, transferee: 'c' }
    expect(decodeFrame(encodeFrame(m))).toEqual(m)
    const bad = [encode({ v: 2 }), encode({ ...JSON.parse('{}'), v: 1, t: 'nope' }), new Uint8Array([0xff]), encode({ v: 1, t: 'app', f: 'a', o: 'b', m: -1, i: 0, l: 0, e: [], c: 0, r: false, h: 0 })]
    for (const bytes of bad) expect(() => decodeFrame(bytes)).toThrow(expect.objectContaining({ name: 'MalformedFrameError' }))
  })
})

describe('RaftTransport', () => {
  const started: Array<{ stop: () => Promise<void> | void }> = []
  afterEach(async () => { for (const s of started.splice(0).reverse()) await s.stop() })

  async function pair (isMember: (peer: string) => boolean = () => true, logB: Logger = quiet): Promise<{ a: Libp2p, b: Libp2p, ta: RaftTransport, tb: RaftTransport, got: Message[] }> {
    const a = await node(); const b = await node()
    started.push(a, b)
    await a.dial(b.getMultiaddrs()[0]!)
    const ta = new RaftTransport({ libp2p: a, isMember: () => true, log: quiet })
    const tb = new RaftTransport({ libp2p: b, isMember, log: logB })
    await ta.start(); await tb.start()
    started.push(ta, tb)
    const got: Message[] = []
    tb.setHandler((m) => { got.push(m) })
    return { a, b, ta, tb, got }
  }

  it('should deliver messages in order, including near-maximum frames and 20 MiB in a burst without a reset', async () => {
    const { a, b, ta, got } = await pair()
    for (let i = 0; i < 100; i++) ta.send(message(a.peerId.toString(), b.peerId.toString(), i))
    await waitFor(() => got.length === 100, 10_000, '100 messages')
    expect(got.map((m) => m.index)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    ta.send(message(a.peerId.toString(), b.peerId.toString(), 1000, MAX_FRAME_BYTES - 1024))
    for (let i = 0; i < 40; i++) ta.send(message(a.peerId.toString(), b.peerId.toString(), 2000 + i, 512 * 1024))
    await waitFor(() => got.length === 141, 20_000, 'large messages').catch((err: Error) => { throw new Error(`${err.message}: got ${got.length}, ${JSON.stringify(ta.counters())}`) })
    expect(got[100]?.entries[0]?.data.length).toBe(MAX_FRAME_BYTES - 1024)
    expect(ta.counters().droppedSendError).toBe(0)
    // Counted by type (an append without entries apart); each writeV carries one or more frames.
    ta.send({ ...message(a.peerId.toString(), b.peerId.toString(), 3000), entries: [] })
    ta.send({ ...message(a.peerId.toString(), b.peerId.toString(), 3001), type: MessageType.Heartbeat, entries: [] })
    await waitFor(() => got.length === 143, 10_000, 'empty append and heartbeat')
    expect(ta.counters().sentByType).toEqual({ app: 141, 'app-empty': 1, heartbeat: 1 })
    expect(ta.counters().writes).toBeGreaterThan(0)
    expect(ta.counters().writes).toBeLessThanOrEqual(143)
  })

  it('should refuse a stream from a peer that is not a member and drop a spoofed sender', async () => {
    const refusing = await pair(() => false)
    refusing.ta.send(message(refusing.a.peerId.toString(), refusing.b.peerId.toString(), 1))
    await waitFor(() => refusing.tb.counters().rejectedNotMember > 0, 10_000, 'refused')
    expect(refusing.got).toEqual([])

    const { a, b, ta, tb, got } = await pair()
    ta.send(message('12D3KooWSomeoneElse', b.peerId.toString(), 1))
    ta.send(message(a.peerId.toString(), b.peerId.toString(), 2))
    await waitFor(() => got.length === 1, 10_000, 'genuine message')
    expect(got[0]?.index).toBe(2)
    expect(tb.counters().rejectedSpoofed).toBe(1)
  })

  it('should close an open stream whose peer may no longer use the protocol when asked again, and refuse its next one', async () => {
    let allowed = true
    const { a, b, ta, tb, got } = await pair(() => allowed)
    const from = a.peerId.toString()
    const to = b.peerId.toString()
    ta.send(message(from, to, 1))
    await waitFor(() => got.length === 1, 10_000, 'a message while allowed')
    expect(tb.recheckInbound()).toBe(0)
    // The peer leaves the configuration: the stream it opened while a member stays open until asked again.
    allowed = false
    expect(tb.recheckInbound()).toBe(1)
    expect(tb.counters().rejectedNotMember).toBe(1)
    expect(tb.counters().inboundStreamErrors).toBe(0)
    expect(tb.recheckInbound()).toBe(0)
    // A send racing the reset is lost with the old stream (Raft retransmits): keep sending, as Raft would.
    await waitFor(() => { ta.send(message(from, to, 2)); return tb.counters().rejectedNotMember >= 2 }, 10_000, 'the next stream refused at open')
    expect(got.map((m) => m.index)).toEqual([1])
  })

  it('should close only the stream that sent a malformed frame and keep serving', async () => {
    const { a, b, ta, tb, got } = await pair()
    const stream = await a.dialProtocol(b.peerId, RAFT_PROTOCOL)
    await lpStream(stream).write(new Uint8Array([1, 2, 3, 4]))
    await waitFor(() => tb.counters().rejectedMalformed === 1, 10_000, 'malformed counted')
    ta.send(message(a.peerId.toString(), b.peerId.toString(), 7))
    await waitFor(() => got.length === 1, 10_000, 'still serving')
  })

  it('should count a frame of more CBOR items than FRAME_ITEMS_MAX as malformed, warn once, and keep serving', async () => {
    const warnings: Array<{ fields: { err?: string }, line: string }> = []
    const log = { ...quiet, warn: (...args: unknown[]) => { warnings.push({ fields: args[0] as { err?: string }, line: args[1] as string }) } }
    const { a, b, ta, tb, got } = await pair(() => true, log)
    // A key holder's frame: canonical, well within MAX_FRAME_BYTES, one-byte `{}` in `e` past the item bound.
    const flood = encode({ ...JSON.parse('{}'), v: 1, t: 'app', f: a.peerId.toString(), o: b.peerId.toString(), m: 3, i: 0, l: 0, e: new Array(FRAME_ITEMS_MAX).fill({}), c: 0, r: false, h: 0 })
    expect(flood.length).toBeLessThan(MAX_FRAME_BYTES)
    for (let i = 0; i < 2; i++) {
      const stream = await a.dialProtocol(b.peerId, RAFT_PROTOCOL)
      await lpStream(stream, { maxDataLength: MAX_FRAME_BYTES }).write(flood)
      await waitFor(() => tb.counters().rejectedMalformed === i + 1, 30_000, `flood ${i + 1} counted`)
    }
    expect(warnings.map((w) => [w.line, w.fields.err])).toEqual([
      ['malformed raft frame; closing the stream (counted; logged once per interval)', `MalformedFrameError: not CBOR: more than ${FRAME_ITEMS_MAX} data items`]
    ])
    ta.send(message(a.peerId.toString(), b.peerId.toString(), 7))
    await waitFor(() => got.length === 1, 10_000, 'still serving')
  }, 60_000)

  it('should drop and count messages beyond the per-peer queue bound instead of blocking', async () => {
    const a = await node()
    started.push(a)
    const ta = new RaftTransport({ libp2p: a, isMember: () => true, log: quiet })
    await ta.start()
    started.push(ta)
    // An unreachable peer: nothing drains the queue.
    for (let i = 0; i < 5000; i++) ta.send(message(a.peerId.toString(), '12D3KooWDw7vD5DyHm3C1N2ZUMcGrM5kZ6jM9wYkF5CXo1yMxxxx', i))
    // The pump is still dialling, so the queue holds exactly its bound and the rest is dropped and counted.
    expect(ta.counters().droppedQueueFull).toBe(5000 - MAX_QUEUED_MESSAGES_PER_PEER)
  })
})
