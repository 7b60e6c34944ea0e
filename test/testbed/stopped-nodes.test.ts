/**
 * What the testbed says and does about nodes that stop, with real node processes from dist/ and the CLI an
 * operator runs. Goals: `testbed kill I` returns only once the process is gone, so `testbed restart I` right
 * after starts it (it was refused with DataDirInUseError: the SIGKILLed node still held its data dir); `testbed
 * status` tells a node removed from the cluster (exit 6) and one that left (exit 0, removed.json says left) from a
 * killed one, by the exit code each process recorded. Method: three nodes (n1 the voter, two learners); kill and
 * restart n3 at once, in this process and through the CLI; remove n2 through n1, let n3 leave, kill n1.
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir, waitFor } from '../node/helpers.js'
import { cliRun, REPO } from '../cli/helpers.js'

const TESTBED = path.join(REPO, 'dist/src/testbed/index.js')
type TestbedModule = typeof import('../../src/testbed/index.js')

let root = ''
let testbed: TestbedModule | undefined
afterEach(async () => {
  if (testbed !== undefined && root !== '') await testbed.testbedDown(path.join(root, 'tb')).catch(() => {})
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
  root = ''
}, 60_000)

/** A process's state letter (/proc/<pid>/stat), or `gone`. */
const procState = (pid: number): string => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? ''
  } catch {
    return 'gone'
  }
}

describe('testbed stopped nodes', () => {
  it('should restart a node right after kill, and show removed, left and killed nodes as such', async () => {
    if (!existsSync(TESTBED)) throw new Error(`${TESTBED} missing: npm run build first (npm test does)`)
    testbed = await import(TESTBED) as TestbedModule
    root = await tempDir('revoada-testbed-stopped-')
    const dir = path.join(root, 'tb')
    // Started by the CLI, which exits: the nodes are orphans, reaped by init, which may leave a killed one a
    // zombie for a while (about 1.5 s here) with its lock file still naming it.
    const up = await cliRun(['testbed', 'up', '--nodes', '3', '--dir', dir])
    expect([up.code, up.stderr]).toEqual([0, ''])
    const state = await testbed.loadTestbed(dir)
    const [n1, n2, n3] = state.nodes as [typeof state.nodes[0], typeof state.nodes[0], typeof state.nodes[0]]
    const nodeState = async (index: number): Promise<string | undefined> => (await testbed!.testbedStatus(dir)).find((n) => n.index === index)?.state

    // Kill then restart at once, as a script does: kill returns once the process has exited (or is a zombie, its
    // files closed), and the restarted node does not take that zombie for the holder of its data dir.
    expect((await testbed.testbedKill(dir, 3)).killed).toBe(true)
    expect(procState(n3.pid)).toMatch(/^(gone|Z)$/)
    const first = await testbed.testbedRestart(dir, 3)
    // The same through the CLI, as an operator types them.
    const pid3 = first.pid
    const killed = await cliRun(['testbed', 'kill', '3', '--dir', dir])
    expect([killed.code, killed.stdout, killed.stderr]).toEqual([0, expect.stringContaining(`killed n3 (pid ${pid3}`), ''])
    expect(procState(pid3)).toMatch(/^(gone|Z)$/)
    expect(await nodeState(3)).toBe('killed')
    const restarted = await cliRun(['testbed', 'restart', '3', '--dir', dir])
    expect([restarted.code, restarted.stdout, restarted.stderr]).toEqual([0, expect.stringContaining('restarted n3'), ''])
    expect(await nodeState(3)).toBe('running')

    // Removed by another member: it stops with exit 6, which status shows as removed, not killed.
    const removed = await cliRun(['remove-member', n2.nodeId, '--data-dir', n1.dataDir])
    expect([removed.code, removed.stderr]).toEqual([0, ''])
    await waitFor(async () => await nodeState(2) !== 'running', 60_000, 'n2 stopped after its removal')
    expect((await testbed.testbedStatus(dir)).find((n) => n.index === 2)).toMatchObject({ running: false, state: 'removed', exitCode: 6 })

    // Left by itself: exit 0, and its removed.json says it left.
    const left = await cliRun(['leave', '--data-dir', n3.dataDir])
    expect(left.code).toBe(0)
    await waitFor(async () => await nodeState(3) !== 'running', 60_000, 'n3 stopped after it left')
    expect((await testbed.testbedStatus(dir)).find((n) => n.index === 3)).toMatchObject({ running: false, state: 'left', exitCode: 0 })

    // SIGKILLed: no exit recorded.
    expect((await cliRun(['testbed', 'kill', '1', '--dir', dir])).code).toBe(0)
    const table = await cliRun(['testbed', 'status', '--dir', dir])
    expect(table.code).toBe(0)
    const lineOf = (index: number): string => table.stdout.split('\n').find((l) => l.startsWith(`n${index} `)) ?? ''
    expect([lineOf(1), lineOf(2), lineOf(3)]).toEqual([
      expect.stringMatching(/^n1 +killed /), expect.stringMatching(/^n2 +removed /), expect.stringMatching(/^n3 +left /)
    ])
  }, 300_000)
})
