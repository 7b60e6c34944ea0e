/**
 * Content sync between nodes in one process (issue 13): add on one node, fetch on others over
 * `/revoada/content/1.0.0`, verified; a fetched blob is announced again and served onward; non-members get
 * nothing. Real libp2p, real Raft admission (content trusts the Raft configuration).
 */
import { promises as fs } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import type { ContentService } from '../../src/content/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const nodes: RevoadaNode[] = []
const dirs: string[] = []
const contentOf = new Map<RevoadaNode, ContentService>()

async function node (join?: string): Promise<RevoadaNode> {
  const dir = await tempDir()
  dirs.push(dir)
  const services = defaultServices({ policy: false })
  const n = await startNode({ config: testConfig(dir, { join }), services })
  nodes.push(n)
  contentOf.set(n, services.find((s) => s.name === 'content') as ContentService)
  return n
}

async function cluster (size: number): Promise<RevoadaNode[]> {
  const first = await node()
  const rest: RevoadaNode[] = []
  for (let i = 1; i < size; i++) rest.push(await node(first.joinString()))
  await waitFor(() => (first.status().learners as string[]).length === size - 1, 20_000, 'all admitted')
  // Every node must see the others in its applied configuration before it trusts them.
  await waitFor(() => [first, ...rest].every((n) => ((n.status().learners as string[]).length + (n.status().voters as string[]).length) === size), 20_000, 'configuration everywhere')
  return [first, ...rest]
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('content swarm (in process)', () => {
  it('should fetch a multi-chunk file added on another node, byte for byte', async () => {
    const [a, b] = await cluster(2) as [RevoadaNode, RevoadaNode]
    const bytes = randomBytes(3 * 1024 * 1024 + 12345)
    const added = await contentOf.get(a)!.add(bytes)
    const got = await contentOf.get(b)!.get(added.cidObject)
    expect(Buffer.from(got).equals(bytes)).toBe(true)
    expect(contentOf.get(b)!.record(added.cidObject)?.complete).toBe(true)
  })
})
