/**
 * IDONTWANT only for messages above IDONTWANT_MIN_DATA_BYTES (src/net/libp2p.ts): gossipsub's default of
 * 512 B made every heartbeat carrying a few labels cost one IDONTWANT per mesh peer. Checked on the
 * gossipsub instance the real node stack builds (createNetNode): a signed message from another node is
 * handed to its receive path, and what it would send as IDONTWANT is recorded (nothing goes on a wire).
 */
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { Libp2p } from 'libp2p'
import type { PeerId } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNetNode, newCluster } from '../../src/net/index.js'
import { IDONTWANT_MIN_DATA_BYTES } from '../../src/net/libp2p.js'
import { MAX_HEARTBEAT_BYTES } from '../../src/membership/core/constants.js'
import { tempDir, testConfig } from '../node/helpers.js'

/** The parts of @libp2p/gossipsub 17's instance this test drives. */
interface GossipInternals {
  opts: { idontwantMinDataSize: number }
  mcache: { put: (id: unknown, raw: unknown, validated: boolean) => unknown }
  sendIDontWants: (msgId: Uint8Array, topic: string, source: string) => void
  validateReceivedMessage: (source: PeerId, raw: unknown) => Promise<{ code: string }>
  publish: (topic: string, data: Uint8Array, opts: { allowPublishToZeroTopicPeers: boolean }) => Promise<unknown>
}

const TOPIC = 'revoada/test/membership/1'
const nodes: Libp2p[] = []
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

async function netNode (): Promise<Libp2p> {
  const dir = await tempDir('revoada-idontwant-')
  dirs.push(dir)
  const node = await createNetNode({ privateKey: await generateKeyPair('Ed25519'), cluster: newCluster(), listen: ['/ip4/127.0.0.1/tcp/0'], net: testConfig(dir).net })
  nodes.push(node)
  return node
}

/** The signed wire message `author` builds for `data` (taken from its message cache as it publishes). */
async function signedMessage (author: GossipInternals, data: Uint8Array): Promise<unknown> {
  let raw: unknown
  const put = author.mcache.put.bind(author.mcache)
  author.mcache.put = (id, message, validated) => { raw = message; return put(id, message, validated) }
  await author.publish(TOPIC, data, { allowPublishToZeroTopicPeers: true })
  author.mcache.put = put
  return raw
}

describe('IDONTWANT threshold', () => {
  it('should send no IDONTWANT for any heartbeat-sized message, and still for larger ones', async () => {
    const [a, b] = [await netNode(), await netNode()]
    const author = a.services.pubsub as unknown as GossipInternals
    const receiver = b.services.pubsub as unknown as GossipInternals
    expect(receiver.opts.idontwantMinDataSize).toBe(IDONTWANT_MIN_DATA_BYTES)
    const idontwants: number[] = []
    let size = 0
    receiver.sendIDontWants = () => { idontwants.push(size) }
    for (size of [600, 2048, MAX_HEARTBEAT_BYTES, MAX_HEARTBEAT_BYTES + 1, 16 * 1024]) {
      const raw = await signedMessage(author, new Uint8Array(size).fill(size % 251))
      const result = await receiver.validateReceivedMessage(a.peerId, raw)
      expect(result.code, `size ${size}`).toBe('valid')
    }
    expect(idontwants).toEqual([MAX_HEARTBEAT_BYTES + 1, 16 * 1024])
  })
})
