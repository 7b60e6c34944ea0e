/**
 * The cluster's pnet layer (src/net/pnet.ts). With `@libp2p/pnet` 3.0.27, two nodes that exchange 1 MiB
 * messages in turn on one connection made the shared `xsalsa20` WASM memory grow by about 1 MiB per turn
 * until `Memory.grow()` threw and the connection was aborted (about 30 turns: the content fetch stall).
 * Through the real node stack (createNetNode), 64 turns must keep the connection and leave that memory
 * as it was; and our protector must interoperate with `@libp2p/pnet` (the same bytes on the wire).
 */
import { promises as fs } from 'node:fs'
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { preSharedKey } from '@libp2p/pnet'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createNetNode, newCluster, pnetKey } from '../../src/net/index.js'
import { clusterKeyProtector } from '../../src/net/pnet.js'
import type { Cluster } from '../../src/net/index.js'
import { tempDir, testConfig } from '../node/helpers.js'

const ECHO = '/revoada-test/echo/1.0.0'
const MIB = 1024 * 1024
const nodes: Libp2p[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

/** Bytes of the `xsalsa20` WASM memory (shared by every cipher in this process), read through a throwaway cipher. */
function xsalsaMemoryBytes (): number {
  const cipher = createRequire(import.meta.url)('xsalsa20')(new Uint8Array(24), new Uint8Array(32)) as { _xor: { _memory?: Uint8Array }, finalize: () => void }
  const bytes = cipher._xor._memory?.buffer.byteLength ?? 0
  cipher.finalize()
  return bytes
}

async function netNode (cluster: Cluster): Promise<Libp2p> {
  const dir = await tempDir('revoada-pnet-')
  dirs.push(dir)
  const config = testConfig(dir)
  const node = await createNetNode({ privateKey: await generateKeyPair('Ed25519'), cluster, listen: ['/ip4/127.0.0.1/tcp/0'], net: config.net })
  nodes.push(node)
  return node
}

/** Serves ECHO on `node`: every length-prefixed frame is sent back. */
async function serveEcho (node: Libp2p): Promise<void> {
  await node.handle(ECHO, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 2 * MIB, maxBufferSize: 4 * MIB })
    try {
      while (true) await lp.write(await lp.read())
    } catch {
      stream.abort(new Error('echo done'))
    }
  })
}

/**
 * Sends 64 one-MiB messages in turn from `from` to `to`'s echo and checks each comes back intact; returns the
 * connection used, after closing the stream.
 */
async function echoTurns (from: Libp2p, to: Libp2p): Promise<{ status: string, id: string }> {
  const stream = await from.dialProtocol(multiaddr(to.getMultiaddrs()[0]!.toString()), ECHO)
  const connection = from.getConnections(to.peerId)[0]!
  const lp = lpStream(stream, { maxDataLength: 2 * MIB, maxBufferSize: 4 * MIB })
  for (let i = 0; i < 64; i++) {
    const message = randomBytes(MIB)
    await lp.write(message)
    expect(Buffer.from((await lp.read()).subarray()).equals(message)).toBe(true)
  }
  await stream.close()
  return connection
}

describe('cluster pnet', () => {
  it('should carry 64 one-MiB messages in turn on one connection, without aborting it or growing the cipher memory', async () => {
    const cluster = newCluster()
    const [a, b] = [await netNode(cluster), await netNode(cluster)] as [Libp2p, Libp2p]
    await serveEcho(b)
    const memoryBefore = xsalsaMemoryBytes()
    const connection = await echoTurns(a, b)
    expect(connection.status).toBe('open')
    expect(a.getConnections(b.peerId).map((c) => c.id)).toContain(connection.id)
    expect(xsalsaMemoryBytes()).toBe(memoryBefore)
  }, 120_000)

  it('should carry 64 one-MiB turns between a native-cipher node and a WASM-fallback node, the WASM memory unchanged', async () => {
    const cluster = newCluster()
    const ours = await netNode(cluster)
    const fallback = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
      connectionProtector: clusterKeyProtector(cluster.key, 10_000, 'wasm')
    })
    nodes.push(fallback)
    await serveEcho(fallback)
    const memoryBefore = xsalsaMemoryBytes()
    const connection = await echoTurns(ours, fallback)
    expect(connection.status).toBe('open')
    expect(xsalsaMemoryBytes()).toBe(memoryBefore)
  }, 120_000)

  it('should interoperate with @libp2p/pnet given the same key', async () => {
    const cluster = newCluster()
    const ours = await netNode(cluster)
    const theirs = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
      connectionProtector: preSharedKey({ psk: pnetKey(cluster.key) })
    })
    nodes.push(theirs)
    await serveEcho(theirs)
    const lp = lpStream(await ours.dialProtocol(multiaddr(theirs.getMultiaddrs()[0]!.toString()), ECHO))
    const message = randomBytes(100_000)
    await lp.write(message)
    expect(Buffer.from((await lp.read()).subarray()).equals(message)).toBe(true)

    // A wrong key does not get through.
    const stranger = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
      connectionProtector: preSharedKey({ psk: pnetKey(newCluster().key) })
    })
    nodes.push(stranger)
    await expect(stranger.dialProtocol(multiaddr(ours.getMultiaddrs()[0]!.toString()), ECHO, { signal: AbortSignal.timeout(3000) })).rejects.toBeDefined()
  }, 60_000)
})
