/**
 * `revoada start` raises its event loop's thread while the node votes (consensus/voter-priority.ts), read
 * from the kernel (/proc/PID/stat), not only from the node's own status: the single-node cluster's voter runs
 * at the default −5, a learner that joins it at the priority it started with. Without CAP_SYS_NICE (not
 * root) the voter reports the refusal and runs as started.
 */
import type { ChildProcess } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { VOTER_NICE_DEFAULT } from '../../src/consensus/voter-priority.js'
import { apiGet } from '../../src/api/index.js'
import { killNodeProcess, spawnNodeProcess, tempDir, waitFor } from '../node/helpers.js'

const children: ChildProcess[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(children.splice(0).map(async (c) => { await killNodeProcess(c) }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

interface PriorityStatus { pid: number, voters: string[], learners: string[], cpuPriority: { nice: number, voterNice: number, refused?: string } }

/** The nice value of the process's main thread as the kernel has it (field 19 of /proc/PID/stat). */
async function kernelNice (pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
}

const privileged = process.getuid?.() === 0

describe('voter priority of a node process', () => {
  it.runIf(process.platform === 'linux')('should raise a voter\'s event loop and leave a learner\'s as started', async () => {
    const root = await tempDir()
    dirs.push(root)
    const first = await spawnNodeProcess(path.join(root, 'a'))
    children.push(first.child)
    const voter = await apiGet(path.join(root, 'a'), '/v1/status') as PriorityStatus
    expect(voter.voters).toEqual([first.nodeId])
    const startNice = await kernelNice(process.pid)
    if (privileged) {
      expect(voter.cpuPriority).toEqual({ nice: Math.min(VOTER_NICE_DEFAULT, startNice), voterNice: VOTER_NICE_DEFAULT })
    } else {
      expect(voter.cpuPriority.refused).toBeDefined()
      expect(voter.cpuPriority.nice).toBe(startNice)
    }
    expect(await kernelNice(voter.pid)).toBe(voter.cpuPriority.nice)

    const second = await spawnNodeProcess(path.join(root, 'b'), ['--join', first.joinString])
    children.push(second.child)
    // The kernel's value is read between two statuses that both show a learner (the policy may promote it later).
    const learnerStatus = async (): Promise<PriorityStatus> => await apiGet(path.join(root, 'b'), '/v1/status') as PriorityStatus
    let seen: { status: PriorityStatus, kernel: number } | undefined
    await waitFor(async () => {
      const before = await learnerStatus()
      if (!before.learners.includes(second.nodeId)) return false
      const kernel = await kernelNice(before.pid)
      if (!(await learnerStatus()).learners.includes(second.nodeId)) return false
      seen = { status: before, kernel }
      return true
    }, 20_000, 'the second node a learner')
    expect(seen?.status.voters).not.toContain(second.nodeId)
    expect(seen?.status.cpuPriority.nice).toBe(startNice)
    expect(seen?.kernel).toBe(startNice)
  }, 40_000)
})
