/**
 * A seed that accepts TCP and never answers is not a wrong key. On a saturated machine (50 `revoada start` on 2
 * cores, docs/bench/scale.md, "50 nodes: what the joiners wait for") the seed's accept queue held the joiners'
 * connections for tens of seconds: their dials timed out with the pnet nonce sent and nothing received, and
 * were logged as "the cluster pre-shared key is probably wrong". A node with another key sends its pnet nonce as
 * soon as it accepts (pnet only XORs; the mismatch shows up in noise), so a port that accepts and stays silent
 * is a busy peer or not a cluster node, not a key mismatch (src/net/dial-errors.ts).
 */
import { createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { classifyDialError, decodeJoinString } from '../../src/net/index.js'
import { tempDir, testConfig } from './helpers.js'

const nodes: RevoadaNode[] = []
const dirs: string[] = []
const servers: Server[] = []
const sockets: Socket[] = []

async function node (): Promise<RevoadaNode> {
  const dir = await tempDir()
  dirs.push(dir)
  const n = await startNode({ config: testConfig(dir) })
  nodes.push(n)
  return n
}

/** A TCP server that accepts every connection and never writes a byte: a seed whose process is starved. */
async function silentServer (): Promise<number> {
  const server = createServer((socket) => { sockets.push(socket); socket.on('error', () => {}) })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(servers.splice(0).map(async (s) => { await new Promise((resolve) => s.close(resolve)) }))
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('dial error classification', () => {
  it('should not blame the cluster key when the peer accepted TCP but never sent its pnet nonce', async () => {
    const c = await node()
    const target = multiaddr(`/ip4/127.0.0.1/tcp/${await silentServer()}`)
    const err = await c.net.dial(target, { signal: AbortSignal.timeout(1500) }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeDefined()
    const classified = await classifyDialError(target, err) as Error
    expect(classified.name).toBe('PeerNotAnsweringError')
    expect(classified.message).toMatch(/sends nothing/)
  })

  it('should still blame the key when the peer answered the nonce (a node of another cluster)', async () => {
    const a = await node()
    const c = await node()
    const target = multiaddr(decodeJoinString(a.joinString()).addresses.find((s) => s.includes('127.0.0.1')) as string)
    const err = await c.net.dial(target, { signal: AbortSignal.timeout(2000) }).then(() => undefined, (e: unknown) => e)
    const classified = await classifyDialError(target, err) as Error
    expect(classified.name).toBe('ClusterKeyProbablyWrongError')
  })
})
