/**
 * What a Raft message costs on its way through the node stack (createNetNode: pnet, noise, yamux; then the
 * Raft framing), checked by counts, not time (issue 16):
 * - receiving raises no exception per message: noise's library decoder threw and caught a RangeError per
 *   chunk, `lpStream().read()` one per varint byte that was not the last (src/net/length-prefixed.ts);
 * - the messages the driver hands over for one peer in one synchronous run leave in one send.
 */
import { rm } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { Libp2p } from 'libp2p'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNetNode, newCluster } from '../../../src/net/index.js'
import { RaftTransport } from '../../../src/consensus/transport/raft-transport.js'
import { EntryType, MessageType } from '../../../src/consensus/core/types.js'
import type { Message } from '../../../src/consensus/core/types.js'
import { tempDir, testConfig, waitFor } from '../../node/helpers.js'

const quiet = { info: () => {}, warn: () => {}, debug: () => {} }
const cleanup: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function pair (): Promise<{ a: Libp2p, b: Libp2p, ta: RaftTransport, got: Message[] }> {
  const cluster = newCluster()
  const dir = await tempDir('revoada-receive-path-')
  cleanup.push(async () => { await rm(dir, { recursive: true, force: true }) })
  const net = testConfig(dir).net
  const nodes = await Promise.all([0, 1].map(async () => await createNetNode({ privateKey: await generateKeyPair('Ed25519'), cluster, listen: ['/ip4/127.0.0.1/tcp/0'], net })))
  const [a, b] = nodes as unknown as [Libp2p, Libp2p]
  cleanup.push(async () => { await Promise.all(nodes.map(async (n) => { await n.stop() })) })
  await a.dial(b.getMultiaddrs()[0]!)
  const ta = new RaftTransport({ libp2p: a, isMember: () => true, log: quiet })
  const tb = new RaftTransport({ libp2p: b, isMember: () => true, log: quiet })
  await ta.start(); await tb.start()
  cleanup.push(async () => { await ta.stop(); await tb.stop() })
  const got: Message[] = []
  tb.setHandler((m) => { got.push(m) })
  return { a, b, ta, got }
}

function app (from: string, to: string, n: number): Message {
  return {
    type: MessageType.App, from, to, term: 3, index: n, logTerm: 3, commit: n, reject: false, rejectHint: 0,
    entries: [{ index: n + 1, term: 3, type: EntryType.Normal, data: new Uint8Array(600).fill(n % 256), proposalId: { clientId: 'c', seq: n } }]
  }
}

/** Counts RangeErrors made (with or without `new`) while `run` runs. */
async function countRangeErrors (run: () => Promise<void>): Promise<number> {
  const original = globalThis.RangeError
  let made = 0
  globalThis.RangeError = new Proxy(original, {
    construct (target, args) { made++; return Reflect.construct(target, args) as object },
    apply (target, self, args) { made++; return Reflect.apply(target, self, args) as unknown }
  })
  try {
    await run()
  } finally {
    globalThis.RangeError = original
  }
  return made
}

describe('a Raft message through the node stack', () => {
  it('should be received without an exception per message', async () => {
    const { a, b, ta, got } = await pair()
    const [from, to] = [a.peerId.toString(), b.peerId.toString()]
    ta.send(app(from, to, 0))
    await waitFor(() => got.length === 1, 10_000, 'first message')
    const messages = 200
    // One at a time, so that each arrives in a chunk of its own (one noise message, one yamux frame).
    const made = await countRangeErrors(async () => {
      for (let n = 1; n <= messages; n++) {
        ta.send(app(from, to, n))
        await waitFor(() => got.length === n + 1, 10_000, `message ${n}`)
      }
    })
    expect(got.map((m) => m.index)).toEqual(Array.from({ length: messages + 1 }, (_, i) => i))
    // Was at least one per message (noise) plus one per frame above 127 bytes (lpStream's varint).
    expect(made).toBeLessThan(messages / 10)
  })

  it('should send the messages handed over for one peer in one synchronous run in one send', async () => {
    const { a, b, ta, got } = await pair()
    const [from, to] = [a.peerId.toString(), b.peerId.toString()]
    ta.send(app(from, to, 0))
    await waitFor(() => got.length === 1, 10_000, 'first message')
    const writes = ta.counters().writes
    for (let n = 1; n <= 8; n++) ta.send(app(from, to, n))
    await waitFor(() => got.length === 9, 10_000, 'eight messages')
    expect(got.map((m) => m.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
    expect(ta.counters().writes - writes).toBe(1)
  })
})
