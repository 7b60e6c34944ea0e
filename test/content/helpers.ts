/**
 * In-process clusters for the content tests: real libp2p nodes with the default stack (policy off), each
 * with a handle on its ContentService, wired as the default stack wires it (`contentPeers`); `contentInit`
 * replaces part of that (e.g. another `isMember`).
 */
import { promises as fs } from 'node:fs'
import { startNode } from '../../src/node/index.js'
import type { NodeService, RevoadaNode } from '../../src/node/index.js'
import type { ConfigInput } from '../../src/config/index.js'
import { contentPeers, defaultServices } from '../../src/node/services.js'
import { ContentService } from '../../src/content/index.js'
import type { ContentServiceInit } from '../../src/content/index.js'
import type { ConsensusService } from '../../src/consensus/consensus-service.js'
import type { MembershipService } from '../../src/membership/membership-service.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

export interface ContentNode { node: RevoadaNode, content: ContentService, consensus: ConsensusService, dir: string, services: NodeService[] }

export class ContentCluster {
  readonly nodes: ContentNode[] = []
  private readonly dirs: string[] = []

  async add (options: { join?: string, dir?: string, config?: ConfigInput, contentInit?: Partial<ContentServiceInit> } = {}): Promise<ContentNode> {
    const dir = options.dir ?? await tempDir('revoada-content-')
    if (!this.dirs.includes(dir)) this.dirs.push(dir)
    const services = defaultServices({ policy: false }) as NodeService[]
    const consensus = services.find((s) => s.name === 'consensus') as ConsensusService
    const membership = services.find((s) => s.name === 'membership') as MembershipService
    // The default stack's wiring (membership and forgetting), unless the test replaces part of it.
    const content = new ContentService({ ...contentPeers(consensus, membership), ...options.contentInit })
    services[services.findIndex((s) => s.name === 'content')] = content
    const node = await startNode({ config: testConfig(dir, { ...options.config, join: options.join }), services })
    const entry = { node, content, consensus, dir, services }
    this.nodes.push(entry)
    return entry
  }

  /** Starts `size` nodes joined to the first and waits until every node's configuration holds all of them. */
  async start (size: number, contentInit: Array<Partial<ContentServiceInit>> = []): Promise<ContentNode[]> {
    const first = await this.add({ contentInit: contentInit[0] ?? {} })
    for (let i = 1; i < size; i++) await this.add({ join: first.node.joinString(), contentInit: contentInit[i] ?? {} })
    await this.converged(size)
    return this.nodes.slice(-size)
  }

  async converged (size: number): Promise<void> {
    const count = (n: RevoadaNode): number => (n.status().learners as string[]).length + (n.status().voters as string[]).length
    await waitFor(() => this.nodes.every((n) => count(n.node) === size), 60_000, `${size} members in every configuration`)
  }

  async stop (entry: ContentNode): Promise<void> {
    await entry.node.stop()
    this.nodes.splice(this.nodes.indexOf(entry), 1)
  }

  async close (): Promise<void> {
    await Promise.all(this.nodes.splice(0).map(async (n) => { await n.node.stop() }))
    await Promise.all(this.dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
  }
}
