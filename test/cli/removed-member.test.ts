/**
 * What a member removed with `revoada remove-member` does, and says, as real node processes (the testbed's, from
 * dist/): it stops taking part, its log and `status` say it was removed and how to rejoin, and the rest of the
 * cluster is not disturbed. Method: three testbed nodes with three voters. n3 is cut off from both others, removed
 * while it cannot hear it, and campaigns alone; healed, it is told by the leader and stops, while the leader keeps
 * its term. Then status, wait-ready and start on n3's data dir, and n2 removed while running and connected.
 * (Removed while down and started again, on a new port: test/cli/cluster-states.test.ts.)
 */
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { apiGet } from '../../src/api/index.js'
import { tempDir, waitFor } from '../node/helpers.js'
import { cliRun, REPO } from './helpers.js'

const TESTBED = path.join(REPO, 'dist/src/testbed/index.js')
type TestbedModule = typeof import('../../src/testbed/index.js')

let root = ''
let testbed: TestbedModule | undefined
afterEach(async () => {
  if (testbed !== undefined && root !== '') await testbed.testbedDown(path.join(root, 'tb')).catch(() => {})
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
  root = ''
}, 60_000)

interface Status { nodeId: string, role: string, term: number, leader: string | null, voters: string[] }
const statusOf = async (dataDir: string): Promise<Status> => await apiGet(dataDir, '/v1/status') as Status

describe('a removed member', () => {
  it('should stop and say so, partitioned or connected, without moving the leader or its term', async () => {
    if (!existsSync(TESTBED)) throw new Error(`${TESTBED} missing: npm run build first (npm test does)`)
    testbed = await import(TESTBED) as TestbedModule
    root = await tempDir('revoada-removed-')
    const dir = path.join(root, 'tb')
    const state = await testbed.testbedUp({ dir, count: 3, target: 'ha-three' })
    const [n1, n2, n3] = state.nodes as [typeof state.nodes[0], typeof state.nodes[0], typeof state.nodes[0]]
    await waitFor(async () => (await statusOf(n1.dataDir)).voters.length === 3, 120_000, 'three voters')
    const running = async (index: number): Promise<boolean> => (await testbed!.testbedStatus(dir)).find((n) => n.index === index)?.running === true
    const log = async (dataDir: string): Promise<string> => await fs.readFile(path.join(dataDir, 'node.log'), 'utf8')

    // (c) Partitioned: n3 hears nothing of its removal and campaigns alone (pre-vote: its term does not grow).
    await testbed.testbedPartition(dir, 3, 1)
    await testbed.testbedPartition(dir, 3, 2)
    const leader = (await statusOf(n1.dataDir)).leader as string
    const leaderDir = [n1, n2].find((n) => n.nodeId === leader)?.dataDir as string
    const term = (await statusOf(leaderDir)).term
    const removed = await cliRun(['remove-member', n3.nodeId, '--data-dir', leaderDir])
    expect([removed.code, removed.stdout]).toEqual([0, expect.stringContaining('applied at index')])
    await waitFor(async () => /candidate/.test((await statusOf(n3.dataDir)).role), 60_000, 'n3 campaigning alone')
    expect((await statusOf(n3.dataDir)).term).toBe(term)
    expect(await running(3)).toBe(true)
    // Healed: the leader tells it; it stops (the testbed node honours the stop request as `revoada start` does).
    await testbed.testbedHeal(dir)
    await waitFor(async () => !await running(3), 60_000, 'n3 stopped after the heal')
    expect(await log(n3.dataDir)).toMatch(/removed from cluster \w+ \(learned from a removal notice from 12D3KooW\w+\); stopping\. .*To rejoin, reset it: move .* away and start with a fresh --data-dir/)
    // The remaining cluster: same leader, same term.
    expect(await statusOf(leaderDir)).toMatchObject({ leader, term })
    const follower = [n1, n2].find((n) => n.nodeId !== leader)?.dataDir as string
    expect(await statusOf(follower)).toMatchObject({ leader, term })

    // status and wait-ready on the removed node's data dir say it was removed (exit 6), not "start one".
    const status = await cliRun(['status', '--data-dir', n3.dataDir])
    expect([status.code, status.stderr]).toEqual([6, expect.stringMatching(/NodeRemovedError: this node was removed from cluster \w+ at .*To rejoin, reset it/)])
    const waited = await cliRun(['wait-ready', '--data-dir', n3.dataDir, '--timeout', '60'], 30_000)
    expect([waited.code, waited.stderr]).toEqual([6, expect.stringContaining('NodeRemovedError: this node was removed')])
    // A start is refused before the network: no heartbeat, no new generation, nothing rewritten.
    const files = ['generation', 'peers.json']
    const before = await Promise.all(files.map(async (f) => await fs.readFile(path.join(n3.dataDir, f), 'utf8')))
    const again = await cliRun(['start', '--data-dir', n3.dataDir, '--listen', '/ip4/127.0.0.1/tcp/0'])
    expect([again.code, again.stderr]).toEqual([6, expect.stringContaining('NodeRemovedError: this node was removed')])
    expect(again.stderr).not.toContain('connected to cluster peer')
    expect(await Promise.all(files.map(async (f) => await fs.readFile(path.join(n3.dataDir, f), 'utf8')))).toEqual(before)

    // (a) Running and connected: the follower learns from the committed log and stops.
    const removedFollower = await cliRun(['remove-member', (await statusOf(follower)).nodeId, '--data-dir', leaderDir])
    expect(removedFollower.code).toBe(0)
    const followerIndex = [n1, n2].findIndex((n) => n.dataDir === follower) + 1
    await waitFor(async () => !await running(followerIndex), 60_000, 'the removed follower stopped')
    expect(await log(follower)).toMatch(/removed from cluster \w+ \(learned from the committed log\); stopping\./)
    expect(await statusOf(leaderDir)).toMatchObject({ leader, term })
  }, 300_000)
})
