/**
 * A committed template that cannot be fetched (yet) does not hold up the reconcile (issue 15): the other
 * roles' manifests are written and removed while its fetch runs on, within its timeout, and its own manifest
 * is written when it arrives, with nothing else scheduling a reconcile. One in-process node holding the four
 * roles; the content layer is played by a map whose `get` waits until the bytes are added.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import { MaterializerService } from '../../src/materializer/index.js'
import type { TemplateContent } from '../../src/materializer/index.js'
import type { ConsensusService } from '../../src/consensus/consensus-service.js'
import { cidOfBytes } from '../../src/codec/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const nodes: RevoadaNode[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop().catch(() => {}) }))
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true })
})

/**
 * A content layer whose `get` waits until the bytes are added (a template no provider serves yet), or until
 * the caller's signal ends the wait, as the real one now does.
 */
function lateContent (): TemplateContent & { waiting: () => number } {
  const blobs = new Map<string, Uint8Array>()
  const waiters = new Map<string, Array<() => void>>()
  let waiting = 0
  return {
    waiting: () => waiting,
    add: async (bytes) => {
      const cid = cidOfBytes(bytes).toString()
      blobs.set(cid, bytes)
      for (const wake of waiters.get(cid) ?? []) wake()
      waiters.delete(cid)
      return cid
    },
    get: async (cid, options) => await new Promise<Uint8Array>((resolve, reject) => {
      const held = blobs.get(cid)
      if (held !== undefined) { resolve(held); return }
      waiting++
      const onAbort = (): void => { waiting--; reject(options?.signal?.reason as Error) }
      options?.signal?.addEventListener('abort', onAbort, { once: true })
      waiters.set(cid, [...(waiters.get(cid) ?? []), () => {
        options?.signal?.removeEventListener('abort', onAbort)
        waiting--
        resolve(blobs.get(cid) as Uint8Array)
      }])
    })
  }
}

describe('a template that cannot be fetched', () => {
  it('should hold up neither the removal of a lost role\'s manifest nor the write of its own once it arrives', async () => {
    const dir = await tempDir('revoada-tmplfetch-')
    dirs.push(dir)
    const content = lateContent()
    const materializer = new MaterializerService({ content, addressOf: () => '10.0.0.1' })
    const services = [...defaultServices({ policy: false, materializer: false }), materializer]
    // No timer reconcile within the test: what happens is caused by the changes and the template's arrival.
    const config = { raft: { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 }, membership: { heartbeatIntervalMs: 200 }, materializer: { reconcileIntervalMs: 3_600_000 }, attestation: { enabled: false } }
    const node = await startNode({ config: testConfig(dir, config), services })
    nodes.push(node)
    const consensus = services.find((x) => x.name === 'consensus') as ConsensusService
    const manifests = path.join(dir, 'manifests')
    const files = async (): Promise<string[]> => (await fs.readdir(manifests)).filter((n) => !n.startsWith('.')).sort()
    await waitFor(() => consensus.node.isLeader(), 20_000, 'the creator leads')
    await waitFor(async () => (await files()).length === 4, 20_000, 'four manifests')

    const bytes = new TextEncoder().encode('apiVersion: v1\nkind: Pod\nmetadata:\n  name: late-template\nspec:\n  containers:\n    - name: s\n      image: "example/s:{{kubernetesVersion}}"\n')
    const catalog = await consensus.propose({ kind: 'set-catalog', role: 'scheduler', templates: [{ name: 'kube-scheduler.yaml', cid: cidOfBytes(bytes).toString() }] }, 'operator')
    expect(catalog.result.outcome.kind).toBe('applied')
    await waitFor(() => content.waiting() > 0, 10_000, 'the template being fetched')
    const demote = await consensus.propose({ kind: 'demote', nodeId: node.nodeId, roles: ['api-server'] }, 'operator')
    expect(demote.result.outcome.kind).toBe('applied')
    // Well within the fetch's 30 s timeout (TEMPLATE_FETCH_TIMEOUT_MS), which the fetch is still waiting out.
    await waitFor(async () => !(await files()).includes('kube-apiserver.yaml'), 5_000, 'the api-server manifest removed')
    expect(content.waiting()).toBe(1)
    expect(await fs.readFile(path.join(manifests, 'kube-scheduler.yaml'), 'utf8')).not.toContain('late-template')

    // It arrives: its manifest is written with nothing else scheduling a reconcile.
    await content.add(bytes)
    await waitFor(async () => (await fs.readFile(path.join(manifests, 'kube-scheduler.yaml'), 'utf8')).includes('late-template'), 5_000, 'the scheduler manifest from the late template')
    expect(await files()).toEqual(['etcd.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'])
  }, 60_000)
})
