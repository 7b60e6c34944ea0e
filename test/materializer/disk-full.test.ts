/**
 * A full disk under the manifest directory: a manifest that cannot be written must not keep a lost role's
 * manifest in place. Method: a real in-process creator node (all four roles, the policy engine off) whose
 * manifest directory is a small tmpfs of the test's own, filled to the last byte; the node gains a role it has
 * no room to write, then loses another. The write fails as `DiskFullError` with a log line, the lost role's
 * manifest is removed all the same, and once room is made the next reconcile writes the missing manifest.
 * Red before: the first failed write ended the reconcile, so every removal after it waited for free space (a
 * demoted node kept running kube-apiserver), and the error was a bare ENOSPC.
 */
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startCreator } from './creator.js'
import type { StartedCreator } from './creator.js'
import { smallTmpfs, tempDir, waitFor } from '../node/helpers.js'

const started: StartedCreator[] = []
const mounts: string[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map(async (s) => { await s.node.stop().catch(() => {}) }))
  for (const m of mounts.splice(0)) execFileSync('umount', [m])
})

/** Writes `file` until the file system has no byte left. */
async function fill (file: string): Promise<void> {
  const handle = await fs.open(file, 'w')
  try {
    const page = Buffer.alloc(4096, 0x61)
    for (;;) await handle.write(page)
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC')
  } finally {
    await handle.close()
  }
}

const manifests = async (dir: string): Promise<string[]> =>
  (await fs.readdir(dir)).filter((name) => name.endsWith('.yaml')).sort()

describe('materializer on a full disk', () => {
  it.runIf(process.platform === 'linux')('should remove a lost role\'s manifest while another cannot be written, report DiskFullError, and write it once room is back', async (ctx) => {
    const dataDir = await tempDir('revoada-matfull-')
    const manifestDir = await smallTmpfs(ctx, '256k', mounts, 'revoada-mat-tmpfs-')
    const s = await startCreator(dataDir, (x) => started.push(x), { manifestDir })
    await waitFor(async () => (await manifests(manifestDir)).length === 4, 20_000, 'four manifests')
    const nodeId = s.node.nodeId

    const demoted = await s.consensus.propose({ kind: 'demote', nodeId, roles: ['scheduler'] }, 'operator')
    expect(demoted.result.outcome.kind).toBe('applied')
    await s.materializer.reconcile()
    expect(await manifests(manifestDir)).toEqual(['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml'])

    const filler = path.join(manifestDir, 'filler')
    await fill(filler)
    const promoted = await s.consensus.propose({ kind: 'promote', nodeId, roles: ['scheduler'] }, 'operator')
    expect(promoted.result.outcome.kind).toBe('applied')
    await s.materializer.reconcile()
    expect(await manifests(manifestDir)).toEqual(['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml'])
    const errors = (): string[] => s.materializer.manifests().events.filter((e) => e.kind === 'error').map((e) => e.message)
    expect(errors().some((m) => m.includes('DiskFullError') && m.includes('kube-scheduler.yaml'))).toBe(true)

    // The disk is still full: the lost role's manifest goes all the same.
    const lost = await s.consensus.propose({ kind: 'demote', nodeId, roles: ['api-server'] }, 'operator')
    expect(lost.result.outcome.kind).toBe('applied')
    await s.materializer.reconcile()
    expect(await manifests(manifestDir)).not.toContain('kube-apiserver.yaml')

    // Room again: the next reconcile writes what was missing, and leaves no temporary file.
    await fs.rm(filler)
    await s.materializer.reconcile()
    expect(await manifests(manifestDir)).toEqual(['etcd.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'])
    expect((await fs.readdir(manifestDir)).filter((name) => name.startsWith('.'))).toEqual([])
    const state = JSON.parse(await fs.readFile(path.join(dataDir, 'materializer', 'state.json'), 'utf8')) as { files: Record<string, unknown> }
    expect(Object.keys(state.files).sort()).toEqual(['etcd.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'])
  }, 90_000)

  it.runIf(process.platform === 'linux')('should remove a lost role\'s manifest when the state file cannot be written for a full disk, and catch up once room is back', async (ctx) => {
    // The state file's directory alone is on the small tmpfs (a host's manifest directory and data dir on one
    // full root file system): the state is recorded before any manifest is written, so that write fails first.
    const dataDir = await tempDir('revoada-matfull-state-')
    const stateDir = path.join(dataDir, 'materializer')
    await fs.mkdir(stateDir)
    const tmpfs = await smallTmpfs(ctx, '256k', mounts, 'revoada-mat-tmpfs-')
    execFileSync('mount', ['--bind', tmpfs, stateDir], { stdio: 'ignore' })
    mounts.unshift(stateDir)
    const manifestDir = path.join(dataDir, 'manifests')
    const s = await startCreator(dataDir, (x) => started.push(x), { manifestDir })
    await waitFor(async () => (await manifests(manifestDir)).length === 4, 20_000, 'four manifests')
    const nodeId = s.node.nodeId
    expect((await s.consensus.propose({ kind: 'demote', nodeId, roles: ['scheduler'] }, 'operator')).result.outcome.kind).toBe('applied')
    await s.materializer.reconcile()

    const filler = path.join(stateDir, 'filler')
    await fill(filler)
    expect((await s.consensus.propose({ kind: 'promote', nodeId, roles: ['scheduler'] }, 'operator')).result.outcome.kind).toBe('applied')
    expect((await s.consensus.propose({ kind: 'demote', nodeId, roles: ['api-server'] }, 'operator')).result.outcome.kind).toBe('applied')
    await s.materializer.reconcile()
    expect(await manifests(manifestDir)).toEqual(['etcd.yaml', 'kube-controller-manager.yaml'])
    const errors = s.materializer.manifests().events.filter((e) => e.kind === 'error').map((e) => e.message)
    expect(errors.some((m) => m.includes('disk full while writing') && m.includes('state.json'))).toBe(true)

    await fs.rm(filler)
    await s.materializer.reconcile()
    expect(await manifests(manifestDir)).toEqual(['etcd.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'])
    const state = JSON.parse(await fs.readFile(path.join(stateDir, 'state.json'), 'utf8')) as { files: Record<string, unknown> }
    expect(Object.keys(state.files).sort()).toEqual(['etcd.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'])
  }, 90_000)
})
