/**
 * One handshake per pair for members learned through gossip (issue 16): both ends hear of each other at about
 * the same time, so only the end with the lower PeerId dials at once; the higher end dials only if still
 * unconnected after GOSSIP_PEER_DIAL_YIELD_MS. A fake libp2p node and clock; no network.
 */
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { Redialer } from '../../src/net/redial.js'
import type { NetNode } from '../../src/net/index.js'
import { GOSSIP_PEER_DIAL_YIELD_MS } from '../../src/net/constants.js'
import { capturingLogger, testConfig } from '../node/helpers.js'

async function peerIds (n: number): Promise<PeerId[]> {
  const ids = await Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
  return ids.sort((a, b) => (a.toString() < b.toString() ? -1 : 1))
}

/** A libp2p node that records dials and never connects (every dial fails at once). */
function fakeNode (self: PeerId, dialled: string[]): NetNode {
  return {
    peerId: self,
    getMultiaddrs: () => [],
    getConnections: () => [],
    addEventListener: () => {},
    removeEventListener: () => {},
    dial: async (target: { toString: () => string }) => { dialled.push(target.toString()); throw new Error('unreachable') },
    peerStore: { merge: async () => {} }
  } as unknown as NetNode
}

describe('redial of members learned through gossip', () => {
  it('should dial a higher PeerId at once and a lower one only after the yield', async () => {
    const [low, mid, high] = await peerIds(3)
    const dialled: string[] = []
    let now = 1_000_000
    const net = testConfig('/nonexistent').net
    const redialer = new Redialer(fakeNode(mid!, dialled), net, capturingLogger().log, () => now)
    const round = (): void => { (redialer as unknown as { round: () => void }).round() }
    redialer.addPeer(low!.toString(), { learnedByGossip: true })
    redialer.addPeer(high!.toString(), { learnedByGossip: true })
    round()
    await new Promise<void>((resolve) => { setImmediate(resolve) })
    expect(dialled).toEqual([high!.toString()])
    now += GOSSIP_PEER_DIAL_YIELD_MS
    round()
    await new Promise<void>((resolve) => { setImmediate(resolve) })
    expect(dialled).toContain(low!.toString())
    await redialer.stop()
  })

  it('should dial a lower PeerId at once when it was not learned through gossip (a seed, a restart, an inbound peer)', async () => {
    const [low, mid] = await peerIds(2)
    const dialled: string[] = []
    const net = testConfig('/nonexistent').net
    const redialer = new Redialer(fakeNode(mid!, dialled), net, capturingLogger().log, () => 1_000_000)
    redialer.addPeer(low!.toString())
    ;(redialer as unknown as { round: () => void }).round()
    await new Promise<void>((resolve) => { setImmediate(resolve) })
    expect(dialled).toEqual([low!.toString()])
    await redialer.stop()
  })
})
