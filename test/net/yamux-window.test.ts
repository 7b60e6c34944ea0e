/**
 * Yamux window updates at half the window (src/net/yamux-window.ts). `@libp2p/yamux` 8.0.3 alone answers
 * every data frame with a window-update frame; through the real node stack (createNetNode), 200 small
 * messages on one stream must now bring their sender almost no updates, and a transfer many times the window
 * must still finish (a sender blocked on a full window is always sent its update).
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { Libp2p } from 'libp2p'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { YamuxStream } from '@libp2p/yamux/stream'
import { createNetNode, newCluster } from '../../src/net/index.js'
import type { Cluster } from '../../src/net/index.js'
import { tempDir, testConfig } from '../node/helpers.js'

const SINK = '/revoada-test/sink/1.0.0'
const nodes: Libp2p[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
})

async function netNode (cluster: Cluster): Promise<Libp2p> {
  const config = testConfig(await tempDir('revoada-yamux-'))
  const node = await createNetNode({ privateKey: await generateKeyPair('Ed25519'), cluster, listen: ['/ip4/127.0.0.1/tcp/0'], net: config.net })
  nodes.push(node)
  return node
}

/** Serves SINK: reads `count` frames, then answers with the number of bytes it read. */
async function serveSink (node: Libp2p, count: number): Promise<void> {
  await node.handle(SINK, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024, maxBufferSize: 64 * 1024 * 1024 })
    let bytes = 0
    for (let i = 0; i < count; i++) bytes += (await lp.read()).byteLength
    await lp.write(new TextEncoder().encode(String(bytes)))
  })
}

/** Sends `count` frames of `size` bytes from `from` to `to`; the window updates this stream received, and the bytes the sink read. */
async function send (from: Libp2p, to: Libp2p, count: number, size: number): Promise<{ updates: number, bytesRead: number }> {
  await from.dial(to.getMultiaddrs()[0]!)
  const stream = await from.dialProtocol(to.peerId, SINK)
  const proto = YamuxStream.prototype as unknown as { handleWindowUpdate: (frame: unknown) => void }
  const original = proto.handleWindowUpdate
  let updates = 0
  proto.handleWindowUpdate = function (this: unknown, frame: unknown): void {
    if (this === stream) updates++
    original.call(this, frame)
  }
  try {
    const lp = lpStream(stream)
    for (let i = 0; i < count; i++) await lp.write(randomBytes(size))
    const bytesRead = Number(new TextDecoder().decode((await lp.read()).subarray()))
    return { updates, bytesRead }
  } finally {
    proto.handleWindowUpdate = original
  }
}

describe('yamux window updates', () => {
  it('should not answer each of 200 small messages with a window update', async () => {
    const cluster = newCluster()
    const [a, b] = [await netNode(cluster), await netNode(cluster)]
    await serveSink(b, 200)
    const { updates, bytesRead } = await send(a, b, 200, 300)
    expect(bytesRead).toBe(200 * 300)
    // The stream's opening ACK may come as one update; the library alone sends about one per message.
    expect(updates).toBeLessThanOrEqual(2)
  })

  it('should still finish a transfer of 32 times the initial window', async () => {
    const cluster = newCluster()
    const [a, b] = [await netNode(cluster), await netNode(cluster)]
    await serveSink(b, 128)
    const { updates, bytesRead } = await send(a, b, 128, 64 * 1024)
    expect(bytesRead).toBe(128 * 64 * 1024)
    expect(updates).toBeGreaterThan(0)
  })
})
