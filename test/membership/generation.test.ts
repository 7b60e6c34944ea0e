/**
 * The node's generation (`<data-dir>/generation`, membership/generation.ts) across a data dir restored from a backup.
 * Goal: peers remember the highest generation they heard from a member and drop anything lower as stale; a data dir
 * restored from a backup holds an older count, and each restart adds one to it, so the restored node's heartbeats
 * (and, as leader, its digests) were dropped by every peer until they declared it dead and removed it, and the policy
 * replaced its roles meanwhile. Method: generations drawn from one directory on a hand-given wall clock, judged by
 * `judgeHeartbeat` against what a peer holds, as the topic validator does.
 */
import { describe, expect, it } from 'vitest'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { nextGeneration, GenerationFileError } from '../../src/membership/generation.js'
import { judgeHeartbeat } from '../../src/membership/core/index.js'
import type { NodeState } from '../../src/membership/core/index.js'
import { tempDir } from '../node/helpers.js'

const state = (generation: number, seq: number): NodeState => ({
  nodeId: 'a', clusterId: 'c1', addresses: [], roles: [], capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 },
  labels: {}, version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation, seq, leaving: false, protocol: 1
})

describe('nextGeneration', () => {
  it('should give a data dir restored from a backup a generation above any it had before the restore', async () => {
    const dir = await tempDir()
    const file = path.join(dir, 'generation')
    const startMs = Date.UTC(2026, 11, 7, 12)
    await nextGeneration(dir, startMs)
    await copyFile(file, `${file}.backup`)
    // Restarted twice after the backup: a peer holds the last of these, with many heartbeats since.
    await nextGeneration(dir, startMs + 3_600_000)
    const remembered = await nextGeneration(dir, startMs + 7_200_000)
    await copyFile(`${file}.backup`, file)
    const restored = await nextGeneration(dir, startMs + 10_800_000)
    const verdict = judgeHeartbeat({ decoded: state(restored, 1), sender: 'a', self: 'b', clusterId: 'c1', lastSeen: { generation: remembered, seq: 7200 } })
    expect(verdict.ok ? 'accepted' : verdict.reason).toBe('accepted')
    // Durable: the next start goes on from it.
    expect(Number((await readFile(file, 'utf8')).trim())).toBe(restored)
  })

  it('should still grow by one at each start when the wall clock is behind, or starts come within one millisecond', async () => {
    const dir = await tempDir()
    const startMs = Date.UTC(2026, 11, 7, 12)
    const first = await nextGeneration(dir, startMs)
    expect(await nextGeneration(dir, startMs)).toBe(first + 1)
    // A clock stepped back (a machine without a real-time clock, before NTP): never lower than before.
    expect(await nextGeneration(dir, startMs - 86_400_000)).toBe(first + 2)
    // A data dir from before the wall clock counted: a small count is outgrown, not an error.
    await writeFile(path.join(dir, 'generation'), '7\n')
    expect(await nextGeneration(dir, startMs)).toBe(startMs)
  })

  it('should refuse a corrupt generation file', async () => {
    const dir = await tempDir()
    await writeFile(path.join(dir, 'generation'), 'garbage\n')
    await expect(nextGeneration(dir, Date.now())).rejects.toThrow(GenerationFileError)
  })
})
