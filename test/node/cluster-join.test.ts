/**
 * Two and three nodes in one process: joining by join string, pnet isolation with a wrong key, api.json
 * lifecycle, and the service extension point.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { startNode } from '../../src/node/index.js'
import type { NodeService, RevoadaNode } from '../../src/node/index.js'
import { classifyDialError, decodeJoinString, encodeJoinString } from '../../src/net/index.js'
import { defaultServices } from '../../src/node/services.js'
import { capturingLogger, tempDir, testConfig, waitFor } from './helpers.js'

const nodes: RevoadaNode[] = []
const dirs: string[] = []

async function node (opts: { join?: string, services?: NodeService[], log?: ReturnType<typeof capturingLogger>['log'] } = {}): Promise<RevoadaNode> {
  const dir = await tempDir()
  dirs.push(dir)
  const n = await startNode({ config: testConfig(dir, { join: opts.join }), services: opts.services, log: opts.log })
  nodes.push(n)
  return n
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('node cluster join', () => {
  it('should connect both nodes when the second joins with the first one\'s join string', async () => {
    const a = await node()
    const b = await node({ join: a.joinString() })
    expect(b.cluster.clusterId).toBe(a.cluster.clusterId)
    await waitFor(() => a.status().peers.includes(b.nodeId) && b.status().peers.includes(a.nodeId), 10_000, 'mutual peers')
  })

  it('should name the cluster key cipher and the signature verifier in its start line (native here; a warning names the slow fallback)', async () => {
    const { log, lines } = capturingLogger('info')
    await node({ log })
    const started = lines.find((l) => l.msg === 'node started')
    expect(started).toMatchObject({ pnetCipher: 'native', signatureVerifier: 'libsodium, then OpenSSL', signer: 'libsodium' })
    expect(lines.some((l) => typeof l.msg === 'string' && l.msg.includes('WASM fallback'))).toBe(false)
  })

  it('should refuse a second node on the same data dir while the first runs', async () => {
    await node()
    const config = testConfig(dirs[0] as string)
    await expect(startNode({ config })).rejects.toHaveProperty('name', 'DataDirInUseError')
  })

  it('should deliver gossip between two joined nodes once the subscription is known', async () => {
    const a = await node()
    const b = await node({ join: a.joinString() })
    const topic = 'revoada/test'
    const got: string[] = []
    a.net.services.pubsub.addEventListener('message', (evt) => { got.push(new TextDecoder().decode(evt.detail.data)) })
    a.net.services.pubsub.subscribe(topic)
    b.net.services.pubsub.subscribe(topic)
    await waitFor(() => b.net.services.pubsub.getSubscribers(topic).some((p) => p.toString() === a.nodeId), 10_000, 'subscription')
    await b.net.services.pubsub.publish(topic, new TextEncoder().encode('hello'))
    await waitFor(() => got.includes('hello'), 10_000, 'gossip delivery')
  })

  it('should reconnect when the cluster creator restarts on a new port', async () => {
    const a = await node()
    const b = await node({ join: a.joinString() })
    await waitFor(() => a.status().peers.includes(b.nodeId), 10_000, 'b connected')
    await waitFor(async () => (await fs.readFile(path.join(dirs[0] as string, 'peers.json'), 'utf8').catch(() => '')).includes(b.nodeId), 10_000, 'peers.json')
    await a.stop()
    await waitFor(() => b.status().peers.length === 0, 10_000, 'b sees a leave')
    const again = await startNode({ config: testConfig(dirs[0] as string) })
    nodes.push(again)
    expect(again.nodeId).toBe(a.nodeId)
    await waitFor(() => again.status().peers.includes(b.nodeId) && b.status().peers.includes(a.nodeId), 10_000, 'reconnected')
  }, 60_000) // the per-test limit covers the four condition waits above (40 s; the 30 s default did not)

  it('should let a third node reach the second through the join string of the second', async () => {
    const a = await node()
    const b = await node({ join: a.joinString() })
    const c = await node({ join: b.joinString() })
    await waitFor(() => b.status().peers.includes(c.nodeId), 10_000, 'c connected to b')
    expect(c.cluster.clusterId).toBe(a.cluster.clusterId)
  })

  it('should refuse a node with the wrong key and log that the key is probably wrong', async () => {
    const a = await node()
    const good = decodeJoinString(a.joinString())
    const forged = encodeJoinString({ ...good, key: randomBytes(32) })
    const captured = capturingLogger('warn')
    const c = await node({ join: forged, log: captured.log })
    await waitFor(() => captured.lines.some((l) => String(l.err).includes('pre-shared key is probably wrong')), 15_000, 'wrong-key log')
    expect(a.status().peers).not.toContain(c.nodeId)
    expect(c.status().peers).toEqual([])
  })

  it('should classify a handshake failure against a reachable port as a probably wrong key', async () => {
    const a = await node()
    const c = await node()
    const target = multiaddr(decodeJoinString(a.joinString()).addresses.find((s) => s.includes('127.0.0.1')) as string)
    const err = await c.net.dial(target, { signal: AbortSignal.timeout(2000) }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeDefined()
    const classified = await classifyDialError(target, err)
    expect((classified as Error).name).toBe('ClusterKeyProbablyWrongError')
  })

  it('should write api.json with mode 0600 on start and remove it on stop', async () => {
    const a = await node()
    const file = path.join(dirs[0] as string, 'api.json')
    const stat = await fs.stat(file)
    expect(stat.mode & 0o777).toBe(0o600)
    const body = JSON.parse(await fs.readFile(file, 'utf8')) as { url: string, token: string }
    expect(body.url).toBe(a.apiUrl)
    await a.stop()
    await expect(fs.stat(file)).rejects.toThrow()
  })

  it('should start services, expose their status and routes, and stop them in reverse order', async () => {
    const events: string[] = []
    const mk = (name: string): NodeService => ({
      name,
      start: async (ctx) => { events.push(`start ${name} ${ctx.service('first') !== undefined}`) },
      stop: async () => { events.push(`stop ${name}`) },
      status: () => ({ ok: name }),
      routes: (app) => { app.get(`/v1/${name}/ping`, async () => ({ pong: name })) }
    })
    const a = await node({ services: [mk('first'), mk('second')] })
    const status = a.status()
    expect(status.second).toEqual({ ok: 'second' })
    const api = JSON.parse(await fs.readFile(path.join(dirs[0] as string, 'api.json'), 'utf8')) as { url: string, token: string }
    const res = await fetch(`${api.url}/v1/second/ping`, { headers: { authorization: `Bearer ${api.token}` } })
    expect(await res.json()).toEqual({ pong: 'second' })
    await a.stop()
    expect(events).toEqual(['start first false', 'start second true', 'stop second', 'stop first'])
  })

  it('should refuse a service named like one of the node\'s own status fields, and keep those fields with the default stack', async () => {
    const named = (name: string): NodeService => ({ name, start: async () => {}, stop: async () => {}, status: () => ({}) })
    await expect(node({ services: [named('addresses')] })).rejects.toThrow(/field of the node's own status/)
    // The default stack's services (one of them the address lookup) leave the node's fields alone: `revoada status`
    // reads `addresses` as the node's multiaddrs.
    const full = await node({ services: defaultServices({ policy: false, materializer: false }) })
    const status = full.status()
    expect(Array.isArray(status.addresses)).toBe(true)
    expect((status.addresses as string[]).every((a) => a.includes('/p2p/'))).toBe(true)
    expect(status['address-lookup']).toMatchObject({ asked: 0, malformedAnswers: 0 })
  })
})
