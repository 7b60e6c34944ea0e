/**
 * IHAVE gossip is sent to Dlazy peers whatever the peer count (src/net/libp2p.ts, IHAVE_GOSSIP): every member
 * got each message from its author, so gossipsub's default of a quarter of the non-mesh peers (≈ 11 IHAVE
 * messages per node per second at 50 members) buys no copies and costs a message each. Checked on the
 * gossipsub instance the real node stack builds (createNetNode), with 40 gossip candidates.
 */
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { Libp2p } from 'libp2p'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNetNode, newCluster } from '../../src/net/index.js'
import { IHAVE_GOSSIP } from '../../src/net/libp2p.js'
import { tempDir, testConfig } from '../node/helpers.js'

/** The parts of @libp2p/gossipsub 17's instance this test drives: IHAVE emission and its pending queue. */
interface GossipInternals {
  doEmitGossip: (topic: string, candidates: Set<string>, messageIds: Uint8Array[]) => void
  gossip: Map<string, unknown[]>
}

const nodes: Libp2p[] = []
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('IHAVE gossip', () => {
  it('should advertise recent messages to Dlazy peers only, however many peers there are', async () => {
    const dir = await tempDir('revoada-ihave-')
    dirs.push(dir)
    const config = testConfig(dir)
    const node = await createNetNode({ privateKey: await generateKeyPair('Ed25519'), cluster: newCluster(), listen: ['/ip4/127.0.0.1/tcp/0'], net: config.net })
    nodes.push(node)
    const pubsub = node.services.pubsub as unknown as GossipInternals
    const candidates = new Set(Array.from({ length: 40 }, (_, i) => `peer-${i}`))
    pubsub.doEmitGossip('revoada/test/membership/1', candidates, [new Uint8Array([1, 2, 3])])
    const advertisedTo = [...pubsub.gossip.keys()]
    // Queued, not sent: nothing of it may reach flush() (the candidates are not peers).
    pubsub.gossip.clear()
    expect(advertisedTo).toHaveLength(IHAVE_GOSSIP.Dlazy)
    expect(IHAVE_GOSSIP.Dlazy).toBe(3)
  })
})
