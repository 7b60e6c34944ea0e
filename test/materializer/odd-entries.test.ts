/**
 * An entry of the manifest directory that is not a regular file (a directory, a FIFO) holding the name of a
 * manifest this node wants: it is a conflict for that name, left as it is, and the node's other manifests are
 * written and removed as before. Method: a real in-process node (the creator, all four roles, the policy
 * engine off) starts on a manifest directory already holding such an entry, then loses a role.
 * Red before: reading a directory threw EISDIR and failed every reconcile, so no manifest was written at all;
 * reading a FIFO waited for a writer forever, so no reconcile ever ended again and the node's stop hung.
 */
import { execFileSync } from 'node:child_process'
import { constants as fsConstants, promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import { MaterializerService } from '../../src/materializer/index.js'
import type { ConsensusService } from '../../src/consensus/consensus-service.js'
import type { ConfigInput } from '../../src/config/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

interface Started { node: RevoadaNode, consensus: ConsensusService, materializer: MaterializerService }
const started: Started[] = []
/** FIFOs a test made: opened for writing at its end, so that a reader blocked on one (the bug) returns. */
const fifos: string[] = []

afterEach(async () => {
  for (const fifo of fifos.splice(0)) {
    const handle = await fs.open(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).catch(() => undefined)
    await handle?.close()
  }
  await Promise.all(started.splice(0).map(async (s) => { await s.node.stop().catch(() => {}) }))
})

async function start (dataDir: string): Promise<Started> {
  const materializer = new MaterializerService({ addressOf: () => '10.0.0.1' })
  const services = [...defaultServices({ policy: false, materializer: false }), materializer]
  const config: ConfigInput = { raft: { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 }, membership: { heartbeatIntervalMs: 200 }, materializer: { reconcileIntervalMs: 500 } }
  const node = await startNode({ config: testConfig(dataDir, config), services })
  const s = { node, consensus: services.find((x) => x.name === 'consensus') as ConsensusService, materializer }
  started.push(s)
  await waitFor(() => s.consensus.node.isLeader(), 20_000, 'the creator leads')
  return s
}

const regularFiles = async (dir: string): Promise<string[]> => {
  const entries = await fs.readdir(dir, { withFileTypes: true })
  return entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name).sort()
}
const conflicts = (s: Started): string[] => [...new Set(s.materializer.manifests().events.filter((e) => e.kind === 'conflict' && e.name !== undefined).map((e) => e.name!))].sort()

describe('materializer odd entries in the manifest directory', () => {
  it.runIf(process.platform === 'linux')('should leave a directory and a FIFO holding manifest names alone as conflicts and keep managing the other manifests', async () => {
    const dataDir = await tempDir('revoada-matodd-')
    const manifestDir = path.join(dataDir, 'manifests')
    await fs.mkdir(path.join(manifestDir, 'kube-scheduler.yaml'), { recursive: true })
    await fs.writeFile(path.join(manifestDir, 'kube-scheduler.yaml', 'inside'), 'operator\n')
    const fifo = path.join(manifestDir, 'kube-controller-manager.yaml')
    execFileSync('mkfifo', [fifo])
    fifos.push(fifo)
    const s = await start(dataDir)
    await waitFor(async () => (await regularFiles(manifestDir)).length === 2, 20_000, 'the two other manifests')
    expect(await regularFiles(manifestDir)).toEqual(['etcd.yaml', 'kube-apiserver.yaml'])
    await waitFor(() => conflicts(s).length === 2, 20_000, 'two conflicts')
    expect(conflicts(s)).toEqual(['kube-controller-manager.yaml', 'kube-scheduler.yaml'])

    // Still managing the rest: a lost role's manifest is removed; the odd entries stay as they are.
    const r = await s.consensus.propose({ kind: 'demote', nodeId: s.node.nodeId, roles: ['api-server'] }, 'operator')
    expect(r.result.outcome.kind).toBe('applied')
    await waitFor(async () => !(await regularFiles(manifestDir)).includes('kube-apiserver.yaml'), 20_000, 'the api-server manifest removed')
    expect(await regularFiles(manifestDir)).toEqual(['etcd.yaml'])
    expect(await fs.readFile(path.join(manifestDir, 'kube-scheduler.yaml', 'inside'), 'utf8')).toBe('operator\n')
    expect((await fs.stat(fifo)).isFIFO()).toBe(true)
    // And the stop ends (a reconcile blocked on the FIFO never did).
    started.splice(started.indexOf(s), 1)
    await s.node.stop()
  }, 60_000)
})
