/**
 * A Ready that carries a hard state and entries (a follower's append with the leader's commit index, a
 * leader's own append with its new commit) is written with one write syscall (issue 16, per-batch cost):
 * - FileStorage.setHardStateAndAppend makes one write and reads back as setHardState then append would;
 * - the metrics wrapper the node puts around it keeps the method;
 * - the driver uses it for such a Ready.
 */
import { afterEach, describe, expect, it } from 'vitest'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { FileStorage } from '../../../src/consensus/storage/file-storage.js'
import { MemoryStorage } from '../../../src/consensus/storage/memory-storage.js'
import { nodeStorageFs } from '../../../src/consensus/storage/storage-fs.js'
import type { StorageFs } from '../../../src/consensus/storage/storage-fs.js'
import { TimedStorage } from '../../../src/metrics/storage.js'
import { EntryType } from '../../../src/consensus/core/types.js'
import type { Entry, HardState } from '../../../src/consensus/core/types.js'
import { LoopbackNetwork, put, startNode, waitUntil } from '../driver/harness.js'
import type { TestNode } from '../driver/harness.js'

const entry = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(16).fill(index) })
const dirs: string[] = []
const nodes: TestNode[] = []
afterEach(() => {
  for (const node of nodes.splice(0)) node.raft.stop()
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

function countingFs (): { fs: StorageFs, writes: () => number } {
  let writes = 0
  return { fs: { ...nodeStorageFs, writeSync: (fd, buffer, offset, length, position) => { writes++; return nodeStorageFs.writeSync(fd, buffer, offset, length, position) } }, writes: () => writes }
}

function tempDir (): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-wal-one-'))
  dirs.push(dir)
  return dir
}

/** A MemoryStorage that counts how the driver writes a Ready's hard state and entries. */
class CountingStorage extends MemoryStorage {
  together = 0
  setHardStateAndAppend (hardState: HardState, entries: Entry[]): void {
    this.together++
    this.setHardState(hardState)
    this.append(entries)
  }
}

describe('one write per Ready', () => {
  it('should write a hard state and entries with one syscall and read them back as two calls would', () => {
    const dir = tempDir()
    const counting = countingFs()
    const storage = new FileStorage(dir, { fs: counting.fs, segmentBytesMax: 1 << 20 })
    storage.load()
    const before = counting.writes()
    storage.setHardStateAndAppend({ term: 2, vote: 'a', commit: 1 }, [entry(1, 1), entry(2, 2), entry(3, 2)])
    expect(counting.writes() - before).toBe(1)
    // A conflicting suffix is replaced, as by append.
    storage.setHardStateAndAppend({ term: 3, vote: 'b', commit: 2 }, [entry(3, 3), entry(4, 3)])
    storage.sync()
    storage.close()
    const reopened = new FileStorage(dir, { segmentBytesMax: 1 << 20 })
    const state = reopened.load()
    expect(state.hardState).toEqual({ term: 3, vote: 'b', commit: 2 })
    expect(state.entries.map((e) => [e.index, e.term])).toEqual([[1, 1], [2, 2], [3, 3], [4, 3]])
    reopened.close()
  })

  it('should keep the single write behind the metrics wrapper', () => {
    const dir = tempDir()
    const counting = countingFs()
    const timed = new TimedStorage(new FileStorage(dir, { fs: counting.fs, segmentBytesMax: 1 << 20 }), () => {})
    timed.load()
    const before = counting.writes()
    expect(timed.setHardStateAndAppend).toBeDefined()
    timed.setHardStateAndAppend?.({ term: 1, vote: 'a', commit: 0 }, [entry(1, 1)])
    expect(counting.writes() - before).toBe(1)
    timed.close()
  })

  it('should hand a follower\'s Ready that carries both to the storage in one call', async () => {
    const network = new LoopbackNetwork()
    const a = startNode(network, 'a', new MemoryStorage(), { bootstrap: true })
    nodes.push(a)
    await waitUntil(() => a.raft.isLeader(), 5000, 'a leads')
    const b = startNode(network, 'b', new CountingStorage())
    nodes.push(b)
    a.raft.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: 'b' }], transition: 'auto', enterJoint: true })
    await waitUntil(() => a.raft.configuration().voters.includes('b') && a.raft.configuration().votersOutgoing.length === 0, 5000, 'b voter')
    for (let i = 0; i < 10; i++) await a.raft.propose(put(`k${i}`, 'v'))
    await waitUntil(() => b.machine.map.size >= 10, 5000, 'b applied the puts')
    // Every append after the first carries the commit index the previous one moved.
    expect((b.storage as CountingStorage).together).toBeGreaterThan(0)
  })
})
