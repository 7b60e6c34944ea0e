/**
 * A manifest's header names its template by the CID's canonical text (src/materializer/header.ts), so the raise
 * to protocol level 7, which rewrites a catalog's mixed-case or padded spelling of a template CID to that text,
 * rewrites no manifest: a rewritten file is a restarted static pod, on every holder at once (docs/MATERIALIZER.md).
 * - the header of a canonical CID is the text every build wrote (pinned), and other spellings give the same;
 * - the desired manifests of two spellings are the same bytes, fingerprint and template fetch;
 * - a file whose header names another spelling of its template (what a build before this one wrote) is adopted
 *   from a state without a directory, and one naming another template or role is not;
 * - on a real in-process node at level 6: a scheduler template committed in a mixed-case spelling renders once;
 *   the raise to 7 then writes nothing (bytes, inode and mtime, write events, state writes, the directory not
 *   even read, the template not fetched again); a restart of a node whose files an older build wrote (the old
 *   spelling in header and state, no directory in the state) adopts them and re-renders that one file once.
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
import { PROTOCOL_CANONICAL_CATALOG, PROTOCOL_REPLACEMENT } from '../../src/consensus/shape/core/index.js'
import type { MeshShape } from '../../src/consensus/shape/core/index.js'
import { canonicalCidText, cidOfBytes, parseCid } from '../../src/codec/index.js'
import type { ConfigInput } from '../../src/config/index.js'
import { DesiredManifests } from '../../src/materializer/desired.js'
import { carriesHeader, manifestHeader } from '../../src/materializer/header.js'
import { ManifestDir } from '../../src/materializer/manifest-dir.js'
import type { MaterializerState } from '../../src/materializer/manifest-dir.js'
import { TemplateSource } from '../../src/materializer/template-source.js'
import type { TemplateView } from '../../src/materializer/core/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const TEMPLATE = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: custom-scheduler\nspec:\n  containers:\n    - name: s\n      image: "example/scheduler:{{kubernetesVersion}}"\n'
const canonical = cidOfBytes(new TextEncoder().encode(TEMPLATE)).toString()
/** The same CID with one letter upper-cased, and padded: base32 decodes both, and level 6 commits them as sent. */
const mixed = canonical.slice(0, 12) + canonical.charAt(12).toUpperCase() + canonical.slice(13)
const padded = `${canonical}=`
const other = cidOfBytes(new TextEncoder().encode('kind: Pod # another\n')).toString()
const NAME = 'kube-scheduler.yaml'
/** The header every build before this one wrote for a canonical CID, byte for byte. */
const PINNED = (cid: string): string => `# Written by revoada for the scheduler role from template ${cid}.\n# Do not edit: revoada rewrites or removes this file as the role moves.\n`

/** Blobs by canonical CID; `get` takes any spelling (as the content service does: it parses the CID). */
function content (): TemplateContent & { gets: number } {
  const blobs = new Map<string, Uint8Array>()
  const key = (cid: string): string => { const parsed = parseCid(cid); return parsed === null ? cid : canonicalCidText(parsed) }
  const c = {
    gets: 0,
    add: async (bytes: Uint8Array) => { const cid = cidOfBytes(bytes).toString(); blobs.set(cid, bytes); return cid },
    get: async (cid: string) => {
      c.gets++
      const b = blobs.get(key(cid))
      if (b === undefined) throw new Error(`no provider for ${cid}`)
      return b
    }
  }
  return c
}

describe('manifest headers name the canonical template CID', () => {
  it('should write the pinned header for a canonical CID, and the same for any other spelling of it', () => {
    expect(mixed).not.toBe(canonical)
    expect(manifestHeader('scheduler', canonical)).toBe(PINNED(canonical))
    expect(manifestHeader('scheduler', mixed)).toBe(PINNED(canonical))
    expect(manifestHeader('scheduler', padded)).toBe(PINNED(canonical))
    // Not a CID (never rendered: nothing fetches it): named as it is.
    expect(manifestHeader('scheduler', 'not-a-cid')).toBe(PINNED('not-a-cid'))
  })

  it('should build the same bytes, fingerprint and template fetch from two spellings of one CID', async () => {
    const c = content()
    await c.add(new TextEncoder().encode(TEMPLATE))
    const desired = new DesiredManifests(new TemplateSource(new Map(), () => c), manifestHeader)
    const view = { kubernetesVersion: 'v1.31.0' } as unknown as TemplateView
    const state: MaterializerState = { files: {}, roles: [] }
    const build = async (cid: string): Promise<{ fingerprint: string, bytes: Uint8Array, templateCid: string }> => {
      const shape = { templatesOf: () => [{ name: NAME, cid }] } as unknown as MeshShape
      const fail = (): void => { throw new Error('no failure expected') }
      const slots = await desired.slots(shape, ['scheduler'], state, view, fail)
      const [m] = await desired.manifests(slots, new Map(), view, fail)
      return { fingerprint: desired.fingerprint(['scheduler'], slots), bytes: m!.bytes, templateCid: m!.templateCid }
    }
    const first = await build(canonical)
    // The bytes a canonical CID renders, as every build before this one rendered them.
    expect(new TextDecoder().decode(first.bytes)).toBe(PINNED(canonical) +
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: custom-scheduler\nspec:\n  containers:\n    - name: s\n      image: example/scheduler:v1.31.0\n')
    expect(first.templateCid).toBe(canonical)
    for (const cid of [mixed, padded]) {
      const again = await build(cid)
      expect(again.bytes).toBe(first.bytes)
      expect(again.fingerprint).toBe(first.fingerprint)
      expect(again.templateCid).toBe(canonical)
    }
    expect(c.gets).toBe(1)
  })

  it('should adopt from a state without a directory a file whose header names another spelling of its template', async () => {
    const root = await tempDir('revoada-mathdr-')
    try {
      const dir = new ManifestDir(path.join(root, 'manifests'), path.join(root, 'state'))
      await dir.open()
      const body = 'apiVersion: v1\nkind: Pod\n'
      const files: Record<string, { role: string, templateCid: string, header: string }> = {
        // What a build before this one wrote: the committed spelling in the header and in the state.
        'old.yaml': { role: 'scheduler', templateCid: mixed, header: PINNED(mixed) },
        // A state naming the canonical text and a file kept with the old header (etcd's kept manifest).
        'kept.yaml': { role: 'scheduler', templateCid: canonical, header: PINNED(padded) },
        'new.yaml': { role: 'scheduler', templateCid: mixed, header: PINNED(canonical) },
        'other-template.yaml': { role: 'scheduler', templateCid: mixed, header: PINNED(other) },
        'other-role.yaml': { role: 'api-server', templateCid: mixed, header: PINNED(mixed) },
        'cut.yaml': { role: 'scheduler', templateCid: mixed, header: PINNED(mixed).slice(0, PINNED(mixed).indexOf('\n') + 3) },
        'no-header.yaml': { role: 'scheduler', templateCid: mixed, header: '' }
      }
      for (const [name, f] of Object.entries(files)) await dir.write(name, new TextEncoder().encode(f.header + body))
      const stored = Object.fromEntries(Object.entries(files).map(([name, f]) => [name, { role: f.role, templateCid: f.templateCid }]))
      await fs.writeFile(path.join(root, 'state', 'state.json'), JSON.stringify({ files: stored, roles: ['scheduler'] }) + '\n')
      const { state, disowned } = await dir.loadState((entry, text) => carriesHeader(text, entry.role, entry.templateCid))
      expect(Object.keys(state.files).sort()).toEqual(['kept.yaml', 'new.yaml', 'old.yaml'])
      expect(state.files['old.yaml']).toEqual({ role: 'scheduler', templateCid: mixed })
      expect(disowned).toEqual(['cut.yaml', 'no-header.yaml', 'other-role.yaml', 'other-template.yaml'])
    } finally {
      await fs.rm(root, { recursive: true, force: true })
    }
  })
})

interface Started { node: RevoadaNode, consensus: ConsensusService, materializer: MaterializerService, content: ReturnType<typeof content> }
const started: Started[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map(async (s) => { await s.node.stop().catch(() => {}) }))
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true })
})

async function start (dataDir: string, c: ReturnType<typeof content>, extra: ConfigInput = {}): Promise<Started> {
  const materializer = new MaterializerService({ content: c, addressOf: () => '10.0.0.1' })
  const services = [...defaultServices({ policy: false, materializer: false }), materializer]
  const config: ConfigInput = { raft: { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 }, membership: { heartbeatIntervalMs: 200 }, materializer: { reconcileIntervalMs: 3_600_000 }, ...extra }
  const node = await startNode({ config: testConfig(dataDir, config), services })
  const s = { node, consensus: services.find((x) => x.name === 'consensus') as ConsensusService, materializer, content: c }
  started.push(s)
  await waitFor(() => s.consensus.node.isLeader(), 20_000, 'the creator leads')
  return s
}

async function caughtUp (s: Started): Promise<void> {
  const index = s.consensus.node.appliedIndex()
  s.materializer.schedule({ onlyShape: true })
  await waitFor(() => ((s.materializer.manifests().lastReconcile as { appliedIndex: number } | null)?.appliedIndex ?? 0) >= index, 20_000, `a reconcile at index ${index}`)
}

const writes = (m: MaterializerService): number => m.manifests().events.filter((e) => e.kind === 'write').length

describe('the raise to protocol level 7 and the manifests of a rewritten template CID', () => {
  it('should write nothing at the raise, and adopt and re-render once a file an older build wrote with the old spelling', async () => {
    const dataDir = await tempDir('revoada-matraise-')
    dirs.push(dataDir)
    const manifests = path.join(dataDir, 'manifests')
    const file = path.join(manifests, NAME)
    const c = content()
    const s = await start(dataDir, c, { protocolLevel: PROTOCOL_REPLACEMENT })
    const m = s.materializer
    expect(s.consensus.shapeMachine.shape.protocol).toBe(PROTOCOL_REPLACEMENT)
    await waitFor(async () => (await fs.readdir(manifests)).filter((n) => !n.startsWith('.')).length === 4, 20_000, 'four manifests')

    // Level 6 commits the mixed-case spelling as sent; the manifest's header names the canonical text.
    expect(await m.content()!.add(new TextEncoder().encode(TEMPLATE))).toBe(canonical)
    const set = await s.consensus.propose({ kind: 'set-catalog', role: 'scheduler', templates: [{ name: NAME, cid: mixed }] }, 'operator')
    expect(set.result.outcome.kind).toBe('applied')
    expect(s.consensus.shapeMachine.shape.templatesOf('scheduler')).toEqual([{ name: NAME, cid: mixed }])
    await waitFor(async () => (await fs.readFile(file, 'utf8')).includes('custom-scheduler'), 20_000, 'the mixed-case template rendered')
    await m.reconcile()
    const bytes = await fs.readFile(file, 'utf8')
    const stat = await fs.stat(file)
    const before = { writes: writes(m), counters: m.counters(), gets: c.gets }

    // The raise rewrites the held spelling to its canonical text (a new shape CID): nothing this node renders moved.
    const raise = await s.consensus.propose({ kind: 'set-protocol', level: PROTOCOL_CANONICAL_CATALOG }, 'operator')
    expect(raise.result.outcome.kind).toBe('applied')
    expect(s.consensus.shapeMachine.shape.templatesOf('scheduler')).toEqual([{ name: NAME, cid: canonical }])
    await caughtUp(s)
    const atRaise = m.counters()
    // Then a reconcile that reads the directory: it finds every manifest as it would write it.
    await m.reconcile()
    const after = await fs.stat(file)
    expect(await fs.readFile(file, 'utf8')).toBe(bytes)
    expect({ ino: after.ino, mtimeMs: after.mtimeMs }).toEqual({ ino: stat.ino, mtimeMs: stat.mtimeMs })
    expect(writes(m)).toBe(before.writes)
    expect(m.counters().stateWrites).toBe(before.counters.stateWrites)
    expect(m.counters().renders).toBe(before.counters.renders)
    expect(c.gets).toBe(before.gets)
    // The reconcile of the raise did not even read the directory: the fingerprint names templates canonically.
    expect(atRaise.manifestReads).toBe(before.counters.manifestReads)
    expect(atRaise.skipped).toBeGreaterThan(before.counters.skipped)
    // The header names the canonical text, before the raise as after it.
    expect(bytes.startsWith(PINNED(canonical))).toBe(true)
    expect(m.manifests().files.find((f) => f.name === NAME)?.templateCid).toBe(canonical)
    started.splice(started.indexOf(s), 1)
    await s.node.stop()

    // As a build before this one left the directory: the committed (old) spelling in the header and the
    // state, and no directory in the state. The other three files are untouched.
    await fs.writeFile(file, bytes.replace(canonical, mixed))
    const stateFile = path.join(dataDir, 'materializer', 'state.json')
    const { manifestDir: _, ...old } = JSON.parse(await fs.readFile(stateFile, 'utf8')) as { manifestDir: string, files: Record<string, { templateCid: string }> }
    old.files[NAME]!.templateCid = mixed
    await fs.writeFile(stateFile, JSON.stringify(old) + '\n')
    const others = await Promise.all(['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml'].map(async (n) => await fs.stat(path.join(manifests, n))))

    // The upgraded node (the build's level): the file is its own, rewritten once to the canonical header.
    const b = await start(dataDir, c)
    await b.materializer.reconcile()
    expect(b.materializer.manifests().events.filter((e) => e.kind === 'conflict')).toEqual([])
    expect(b.materializer.manifests().events.filter((e) => e.kind === 'write').map((e) => e.name)).toEqual([NAME])
    expect(await fs.readFile(file, 'utf8')).toBe(bytes)
    const now = await Promise.all(['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml'].map(async (n) => await fs.stat(path.join(manifests, n))))
    expect(now.map((x) => x.ino)).toEqual(others.map((x) => x.ino))
    // Its own: a demotion removes it.
    expect((await b.consensus.propose({ kind: 'demote', nodeId: b.node.nodeId, roles: ['scheduler'] }, 'operator')).result.outcome.kind).toBe('applied')
    await waitFor(async () => !(await fs.readdir(manifests)).includes(NAME), 20_000, 'the scheduler manifest removed')
  }, 120_000)
})
