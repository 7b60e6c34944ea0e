/**
 * The local testbed (`revoada testbed …`) with real node processes from dist/: three nodes form one
 * cluster; `partition 1 2` cuts exactly that link (both ends drop each other, the third keeps both);
 * `heal` restores it; `kill` is a SIGKILL that `status` reports; `restart` brings the node back into the
 * same cluster; `down` stops everything and removes the directory. Uses the build in dist/ (npm test builds).
 */
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { apiGet } from '../../src/api/index.js'
import { REVOADA_BIN_NODE_FLAGS } from '../../src/cli/node-flags.js'
import { tempDir, waitFor } from '../node/helpers.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const TESTBED = path.join(ROOT, 'dist/src/testbed/index.js')
type TestbedModule = typeof import('../../src/testbed/index.js')

let root = ''
let testbed: TestbedModule | undefined
afterEach(async () => {
  if (testbed !== undefined && root !== '') await testbed.testbedDown(path.join(root, 'tb')).catch(() => {})
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
  root = ''
}, 60_000)

const peersOf = async (dataDir: string): Promise<string[]> => ((await apiGet(dataDir, '/v1/status')) as { peers: string[] }).peers

describe('testbed', () => {
  it('should partition two nodes, heal them, report a kill, restart the node and tear down', async () => {
    if (!existsSync(TESTBED)) throw new Error(`${TESTBED} missing: npm run build first (npm test does)`)
    testbed = await import(TESTBED) as TestbedModule
    root = await tempDir('revoada-testbed-')
    const dir = path.join(root, 'tb')
    const state = await testbed.testbedUp({ dir, count: 3 })
    const [n1, n2, n3] = state.nodes as [typeof state.nodes[0], typeof state.nodes[0], typeof state.nodes[0]]
    expect(state.nodes.map((n) => n.apiUrl).every((u) => /^http:\/\/127\.0\.0\.1:\d+$/.test(u))).toBe(true)
    // Every node runs with the revoada bin's Node flags (what operators run).
    if (existsSync('/proc/self/cmdline')) {
      const argv = (await fs.readFile(`/proc/${n1.pid}/cmdline`, 'utf8')).split('\0')
      expect(argv).toEqual(expect.arrayContaining([...REVOADA_BIN_NODE_FLAGS]))
    }
    await expect(testbed.testbedUp({ dir, count: 3 })).rejects.toMatchObject({ name: 'TestbedExistsError' })
    await waitFor(async () => (await peersOf(n1.dataDir)).length === 2 && (await peersOf(n2.dataDir)).length === 2, 60_000, 'a full mesh')

    await testbed.testbedPartition(dir, 1, 2)
    await waitFor(async () => !(await peersOf(n1.dataDir)).includes(n2.nodeId) && !(await peersOf(n2.dataDir)).includes(n1.nodeId), 30_000, 'n1 and n2 apart')
    expect((await peersOf(n3.dataDir)).sort()).toEqual([n1.nodeId, n2.nodeId].sort())
    await testbed.testbedHeal(dir)
    await waitFor(async () => (await peersOf(n1.dataDir)).includes(n2.nodeId), 60_000, 'n1 and n2 together again')

    await testbed.testbedKill(dir, 2)
    await waitFor(async () => (await testbed!.testbedStatus(dir)).find((n) => n.index === 2)?.running === false, 10_000, 'n2 reported killed')
    await expect(testbed.testbedKill(dir, 9)).rejects.toMatchObject({ name: 'TestbedArgumentError' })
    const back = await testbed.testbedRestart(dir, 2)
    expect(back.nodeId).toBe(n2.nodeId)
    await waitFor(async () => (await peersOf(n2.dataDir)).length === 2, 60_000, 'restarted n2 back in the mesh')

    const pids = (await testbed.testbedStatus(dir)).map((n) => n.pid)
    await testbed.testbedDown(dir)
    expect(existsSync(dir)).toBe(false)
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow()
  }, 240_000)
})
