/**
 * Three `revoada start` processes (issue 6 item 6): SIGKILL the leader, the others carry on, the killed
 * node restarts from its data dir and catches up, and every acknowledged proposal is present everywhere.
 * Uses the built CLI (`npm test` builds first).
 */
import type { ChildProcess } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { killHard, REVOADA_MAIN, revoadaCli, startRevoada } from './revoada-process.js'
import { tempDir, waitFor } from '../../node/helpers.js'

/**
 * Deadline of each wait for a condition. Under load (a CI box, or a CPU hog on both cores) a process start or an
 * election takes many times longer than idle, so each phase waits for its condition rather than for a time;
 * the deadline only bounds a phase that never happens. The test's own timeout is the sum of its phases.
 */
const PHASE_MS = 90_000
const PHASES = 9
const MAIN = REVOADA_MAIN
const children: ChildProcess[] = []
let root = ''

async function cli (...args: string[]): Promise<string> {
  return await revoadaCli(args, PHASE_MS)
}

interface Status { nodeId: string, leader: string | null, role: string, appliedIndex: number, voters: string[], learners: string[], shapeCid: string }
const status = async (dir: string): Promise<Status> => JSON.parse(await cli('status', '--json', '--data-dir', dir)) as Status
const statusOrNull = async (dir: string): Promise<Status | null> => { try { return await status(dir) } catch { return null } }

async function start (dir: string, join?: string): Promise<ChildProcess> {
  return await startRevoada({ dir, config: path.join(root, 'config.json'), ...(join !== undefined ? { join } : {}), children, answering: async (d) => (await statusOrNull(d)) !== null, deadlineMs: PHASE_MS })
}

afterEach(async () => {
  for (const child of children.splice(0)) await killHard(child)
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
})

describe('revoada processes', () => {
  it('should survive SIGKILL of the leader, and the restarted node catches up with every acknowledged proposal', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npx tsc -p .\` (npm test builds first)`)
    root = await tempDir()
    // The policy engine stays off: this test drives the roles by hand. Proposals may wait 30 s to commit:
    // three processes plus a CLI process per step share the loaded 2-core test machine.
    await fs.writeFile(path.join(root, 'config.json'), JSON.stringify({ policy: { enabled: false }, raft: { operationTimeoutMs: 30_000 } }))
    const dirs = ['a', 'b', 'c'].map((n) => path.join(root, n))
    const procs = new Map<string, ChildProcess>()
    procs.set(dirs[0]!, await start(dirs[0]!))
    const join = (await cli('join-string', '--data-dir', dirs[0]!)).trim()
    for (const dir of dirs.slice(1)) procs.set(dir, await start(dir, join))
    await waitFor(async () => (await status(dirs[0]!)).learners.length === 2, PHASE_MS, 'two learners admitted')
    const ids = await Promise.all(dirs.map(async (d) => (await status(d)).nodeId))
    for (const id of ids.slice(1)) {
      const out = JSON.parse(await cli('propose', 'promote', id, '--roles', 'etcd', '--json', '--data-dir', dirs[1]!)) as { outcome: { kind: string } }
      expect(out.outcome.kind).toBe('applied')
    }
    await waitFor(async () => (await Promise.all(dirs.map(status))).every((s) => s.voters.length === 3), PHASE_MS, '3 voters everywhere')
    const acknowledged: Array<[string, string]> = []
    const ack = async (via: string, id: string, role: string): Promise<void> => {
      const out = JSON.parse(await cli('propose', 'promote', id, '--roles', role, '--json', '--data-dir', via)) as { outcome: { kind: string } }
      expect(out.outcome.kind).toBe('applied')
      acknowledged.push([id, role])
    }
    await ack(dirs[2]!, ids[1]!, 'scheduler')
    await ack(dirs[1]!, ids[2]!, 'controller-manager')

    const leaderId = (await status(dirs[0]!)).leader
    const leaderDir = dirs[ids.indexOf(leaderId!)]!
    await killHard(procs.get(leaderDir)!)
    const survivors = dirs.filter((d) => d !== leaderDir)
    await waitFor(async () => {
      const s = await Promise.all(survivors.map(statusOrNull))
      return s.some((x) => x?.role === 'leader')
    }, PHASE_MS, 'a new leader among the survivors')
    const victimId = ids[dirs.indexOf(leaderDir)]!
    await ack(survivors[0]!, victimId === ids[0] ? ids[1]! : ids[0]!, 'api-server')

    procs.set(leaderDir, await start(leaderDir))
    await waitFor(async () => {
      const all = await Promise.all(dirs.map(statusOrNull))
      return all.every((s) => s !== null && s.shapeCid === all[0]!.shapeCid)
    }, PHASE_MS, 'the restarted node caught up')
    for (const dir of dirs) {
      const shape = JSON.parse(await cli('shape', '--json', '--stale', '--data-dir', dir)) as { members: Array<{ nodeId: string, roles: string[] }> }
      for (const [id, role] of acknowledged) expect(shape.members.find((m) => m.nodeId === id)?.roles, `${dir} ${role}`).toContain(role)
    }
  }, PHASE_MS * PHASES)
})
