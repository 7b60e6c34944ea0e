/**
 * The materializer service on real in-process nodes (issue 15):
 * - one node: the creator's four roles become four manifests and four onPromote hook runs (with ROLE,
 *   NODE_ID, SHAPE_CID, INDEX); a demotion removes the manifest and runs onDemote; an operator's own file in
 *   the manifest directory is never touched; a template with an unknown variable is refused before commit;
 * - three nodes: a catalog change committed on one node reaches every holder of the role, which fetches the
 *   template by CID and re-renders its manifest.
 * The first test injects the content layer as a CID-keyed map; the catalog test uses the real one (layer C).
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
import { canonicalCidText, cidOfBytes, parseCid } from '../../src/codec/index.js'
import { apiRequest } from '../../src/api/index.js'
import type { ConfigInput } from '../../src/config/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

interface Started { dir: string, node: RevoadaNode, consensus: ConsensusService, materializer: MaterializerService }
const started: Started[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map(async (s) => { await s.node.stop().catch(() => {}) }))
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true })
})

function sharedContent (): TemplateContent {
  const blobs = new Map<string, Uint8Array>()
  return {
    add: async (bytes) => { const cid = cidOfBytes(bytes).toString(); blobs.set(cid, bytes); return cid },
    get: async (cid) => { const b = blobs.get(cid); if (b === undefined) throw new Error(`no provider for ${cid}`); return b }
  }
}

const FAST: ConfigInput = { raft: { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 }, membership: { heartbeatIntervalMs: 200 }, materializer: { reconcileIntervalMs: 500 } }

/** A node; `content` replaces the real content layer (undefined: templates travel through layer C). */
async function start (content: TemplateContent | undefined, extra: ConfigInput = {}, join?: string): Promise<Started> {
  const dir = await tempDir('revoada-mat-')
  dirs.push(dir)
  const materializer = new MaterializerService(content !== undefined ? { content } : {})
  const services = [...defaultServices({ policy: false, materializer: false }), materializer]
  const node = await startNode({ config: testConfig(dir, { ...FAST, ...extra, ...(join !== undefined ? { join } : {}) }), services })
  const s = { dir, node, consensus: services.find((x) => x.name === 'consensus') as ConsensusService, materializer }
  started.push(s)
  return s
}

const files = async (dir: string): Promise<string[]> => (await fs.readdir(path.join(dir, 'manifests'))).filter((n) => !n.startsWith('.')).sort()

describe('materializer service', () => {
  it('should materialize the creator\'s roles, run hooks per transition, and refuse a template it cannot render', async () => {
    const hookDir = await tempDir('revoada-hooks-')
    dirs.push(hookDir)
    const hookLog = path.join(hookDir, 'hooks.log')
    const hook = path.join(hookDir, 'hook.sh')
    await fs.writeFile(hook, `#!/bin/sh\necho "$HOOK $ROLE $NODE_ID $SHAPE_CID $INDEX" >> ${hookLog}\n`, { mode: 0o755 })
    const a = await start(sharedContent(), { hooks: { onPromote: hook, onDemote: hook } })
    await waitFor(() => a.consensus.node.isLeader(), 20_000, 'the creator leads')
    await fs.writeFile(path.join(a.dir, 'manifests', 'operator-own.yaml'), 'kept: true\n')
    await waitFor(async () => (await files(a.dir)).length === 5, 20_000, 'four manifests')
    expect(await files(a.dir)).toEqual(['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml', 'operator-own.yaml'])
    await waitFor(async () => (await fs.readFile(hookLog, 'utf8').catch(() => '')).trim().split('\n').length === 4, 20_000, 'four onPromote runs')
    const runs = (await fs.readFile(hookLog, 'utf8')).trim().split('\n').map((l) => l.split(' '))
    expect(runs.map((r) => r[0])).toEqual(['onPromote', 'onPromote', 'onPromote', 'onPromote'])
    expect(runs.map((r) => r[1]).sort()).toEqual(['api-server', 'controller-manager', 'etcd', 'scheduler'])
    expect(runs.every((r) => r[2] === a.node.nodeId && r[3]!.startsWith('b') && Number(r[4]) > 0)).toBe(true)

    const demoted = await a.consensus.propose({ kind: 'demote', nodeId: a.node.nodeId, roles: ['scheduler'] }, 'operator')
    expect(demoted.result.outcome.kind).toBe('applied')
    await waitFor(async () => !(await files(a.dir)).includes('kube-scheduler.yaml'), 20_000, 'the scheduler manifest removed')
    await waitFor(async () => (await fs.readFile(hookLog, 'utf8')).includes('onDemote scheduler'), 20_000, 'onDemote ran')
    expect(await fs.readFile(path.join(a.dir, 'manifests', 'operator-own.yaml'), 'utf8')).toBe('kept: true\n')
    const listed = await apiRequest(a.dir, 'GET', '/v1/manifests') as { files: Array<{ name: string, role: string }> }
    expect(listed.files.map((f) => f.name)).toEqual(['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml'])

    // Refused before anything is proposed: the committed etcd catalog stays as it was. (Not the applied
    // index: a witness seal or a policy entry may commit meanwhile on a loaded machine.)
    const catalogBefore = await apiRequest(a.dir, 'GET', '/v1/catalog')
    await expect(apiRequest(a.dir, 'POST', '/v1/catalog', { role: 'etcd', templates: [{ name: 'etcd.yaml', text: 'apiVersion: v1\nkind: Pod\nx: "{{node.adress}}"\n' }] }))
      .rejects.toThrow(/TemplateVariableError|node\.adress/)
    expect(await apiRequest(a.dir, 'GET', '/v1/catalog')).toEqual(catalogBefore)
  })

  it('should bring a catalog change to every holder of the role, the template fetched by CID through the content layer', async () => {
    const content = undefined
    const a = await start(content)
    await waitFor(() => a.consensus.node.isLeader(), 20_000, 'the creator leads')
    const b = await start(content, {}, a.node.joinString())
    const c = await start(content, {}, a.node.joinString())
    const all = [a, b, c]
    await waitFor(() => all.every((s) => s.consensus.node.configuration().learners.length === 2), 30_000, 'two learners admitted')
    for (const s of [b, c]) {
      const r = await a.consensus.propose({ kind: 'promote', nodeId: s.node.nodeId, roles: ['api-server'] }, 'operator')
      expect(r.result.outcome.kind).toBe('applied')
    }
    await waitFor(async () => (await Promise.all(all.map(async (s) => (await files(s.dir)).includes('kube-apiserver.yaml')))).every(Boolean), 30_000, 'three api-server manifests')
    const text = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: custom-apiserver\n  annotations:\n    at: "{{node.address}}"\nspec:\n  containers:\n    - name: c\n      image: "example/apiserver:{{kubernetesVersion}}"\n'
    const result = await apiRequest(b.dir, 'POST', '/v1/catalog', { role: 'api-server', templates: [{ name: 'kube-apiserver.yaml', text }] }) as { outcome: { kind: string }, templates: Array<{ cid: string }> }
    expect(result.outcome.kind).toBe('applied')
    const cid = result.templates[0]!.cid
    // What the API commits is the content layer's CID in its canonical text (protocol level 7 refuses any other).
    const parsed = parseCid(cid)
    expect(parsed !== null && canonicalCidText(parsed)).toBe(cid)
    // The file is renamed into place before its directory is fsynced and its record noted: wait for the record.
    const listedCid = async (s: Started): Promise<string | undefined> =>
      (await apiRequest(s.dir, 'GET', '/v1/manifests') as { files: Array<{ name: string, templateCid: string }> }).files.find((f) => f.name === 'kube-apiserver.yaml')?.templateCid
    await waitFor(async () => (await Promise.all(all.map(listedCid))).every((listed) => listed === cid), 30_000, 'the new template on every holder')
    for (const s of all) expect(await fs.readFile(path.join(s.dir, 'manifests', 'kube-apiserver.yaml'), 'utf8')).toContain('custom-apiserver')
    // Non-holders render nothing for the role.
    expect(await files(a.dir)).toContain('etcd.yaml')
  }, 120_000)
})
