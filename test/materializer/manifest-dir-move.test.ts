/**
 * The state file names the directory its files are in (auditor's finding on issue 15): a node that wrote its
 * manifests in one directory and restarts with `materializer.manifestDir` pointing at another must not take a
 * file of the same name there for its own. Method: a real in-process node (the creator, all four roles, the
 * policy engine off) writes its manifests into the default `<data-dir>/manifests`, stops, and restarts:
 * - on a second directory holding foreign `kube-apiserver.yaml`, `etcd.yaml` and `kube-scheduler.yaml`:
 *   each is a conflict and keeps its bytes, the fourth manifest is written, and a demotion of the scheduler
 *   deletes nothing (the first directory is left as it was);
 * - on the same directory with a state written by a build that did not record the directory: its own files
 *   (they carry its header) are still its own, and a foreign file that replaced one of them is a conflict.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir, waitFor } from '../node/helpers.js'
import { startCreator } from './creator.js'
import type { StartedCreator } from './creator.js'

type Started = StartedCreator
const started: Started[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map(async (s) => { await s.node.stop().catch(() => {}) }))
})

/** The node of `dataDir`; `manifestDir` undefined: the default `<data-dir>/manifests`. */
async function start (dataDir: string, manifestDir?: string): Promise<Started> {
  return await startCreator(dataDir, (s) => { started.push(s) }, manifestDir !== undefined ? { manifestDir } : {})
}

async function stop (s: Started): Promise<void> {
  started.splice(started.indexOf(s), 1)
  await s.node.stop()
}

const files = async (dir: string): Promise<string[]> => (await fs.readdir(dir)).filter((n) => !n.startsWith('.')).sort()
const contents = async (dir: string): Promise<Record<string, string>> =>
  Object.fromEntries(await Promise.all((await files(dir)).map(async (n) => [n, await fs.readFile(path.join(dir, n), 'utf8')] as const)))
const conflicts = (s: Started): string[] => [...new Set(s.materializer.manifests().events.filter((e) => e.kind === 'conflict' && e.name !== undefined).map((e) => e.name!))].sort()

/** Demotes this node's scheduler role and waits for a reconcile that saw it. */
async function demoteScheduler (s: Started): Promise<void> {
  const r = await s.consensus.propose({ kind: 'demote', nodeId: s.node.nodeId, roles: ['scheduler'] }, 'operator')
  expect(r.result.outcome.kind).toBe('applied')
  const index = s.consensus.node.appliedIndex()
  await waitFor(() => ((s.materializer.manifests().lastReconcile as { appliedIndex: number } | null)?.appliedIndex ?? 0) >= index, 20_000, 'a reconcile after the demotion')
  await s.materializer.reconcile()
}

const FOREIGN = {
  'kube-apiserver.yaml': 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: operators-apiserver\n',
  'etcd.yaml': 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: operators-etcd\n',
  'kube-scheduler.yaml': 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: operators-scheduler\n'
}

describe('materializer state and the manifest directory', () => {
  it('should treat same-name files in a new manifest directory as foreign: conflicts, bytes unchanged, nothing deleted', async () => {
    const dataDir = await tempDir('revoada-matmove-')
    const first = path.join(dataDir, 'manifests')
    const a = await start(dataDir)
    await waitFor(async () => (await files(first)).length === 4, 20_000, 'four manifests in the default directory')
    await stop(a)
    const before = await contents(first)

    const second = await tempDir('revoada-matmove-b-')
    for (const [name, text] of Object.entries(FOREIGN)) await fs.writeFile(path.join(second, name), text)
    const b = await start(dataDir, second)
    await b.materializer.reconcile()
    expect(b.materializer.manifestDir).toBe(second)
    expect(conflicts(b)).toEqual(['etcd.yaml', 'kube-apiserver.yaml', 'kube-scheduler.yaml'])
    const now = await contents(second)
    for (const [name, text] of Object.entries(FOREIGN)) expect(now[name]).toBe(text)
    expect(now['kube-controller-manager.yaml']).toContain('# Written by revoada for the controller-manager role')

    // A role this node wrote a manifest for (in the first directory) and no longer holds: nothing in the new
    // directory is deleted for it, and the first directory is not touched either.
    await demoteScheduler(b)
    expect(await fs.readFile(path.join(second, 'kube-scheduler.yaml'), 'utf8')).toBe(FOREIGN['kube-scheduler.yaml'])
    expect(await files(second)).toEqual(['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'])
    expect(await contents(first)).toEqual(before)
    const state = JSON.parse(await fs.readFile(path.join(dataDir, 'materializer', 'state.json'), 'utf8')) as { manifestDir: string, files: Record<string, unknown> }
    expect(state.manifestDir).toBe(second)
    expect(Object.keys(state.files)).toEqual(['kube-controller-manager.yaml'])
  }, 90_000)

  it('should adopt from a state without a directory only the files that carry this node\'s header', async () => {
    const dataDir = await tempDir('revoada-matold-')
    const dir = path.join(dataDir, 'manifests')
    const a = await start(dataDir)
    await waitFor(async () => (await files(dir)).length === 4, 20_000, 'four manifests')
    await stop(a)
    // As the build before the directory was recorded left it; and an operator's own etcd.yaml in its place.
    const stateFile = path.join(dataDir, 'materializer', 'state.json')
    const { manifestDir: _, ...old } = JSON.parse(await fs.readFile(stateFile, 'utf8')) as Record<string, unknown>
    await fs.writeFile(stateFile, JSON.stringify(old) + '\n')
    await fs.writeFile(path.join(dir, 'etcd.yaml'), FOREIGN['etcd.yaml'])

    const b = await start(dataDir)
    await b.materializer.reconcile()
    expect(conflicts(b)).toEqual(['etcd.yaml'])
    expect(await fs.readFile(path.join(dir, 'etcd.yaml'), 'utf8')).toBe(FOREIGN['etcd.yaml'])
    // Its own scheduler manifest is still its own: the demotion removes it.
    await demoteScheduler(b)
    expect(await files(dir)).toEqual(['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml'])
  }, 90_000)
})
