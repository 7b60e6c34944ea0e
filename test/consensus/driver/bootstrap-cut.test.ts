/**
 * Bootstrap after a power cut between its two writes (found by test/consensus/storage/power-loss.test.ts
 * once WAL segments were pre-written). Goal: a node whose disk kept the hard state bootstrapping writes
 * (term 1, its own vote) but not the bootstrap entries written after it bootstraps again and leads; any
 * other hard state on an empty log is left alone. Method: the state is written with FileStorage by hand.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import { FileStorage } from '../../../src/consensus/storage/file-storage.js'
import type { HardState } from '../../../src/consensus/core/types.js'
import { KvMachine, put, silentLogger } from './harness.js'

const dirs: string[] = []
const nodes: RaftNode<{ previous: string | null }>[] = []
afterEach(() => {
  for (const node of nodes.splice(0)) node.stop()
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

function startOn (hardState: HardState): { raft: RaftNode<{ previous: string | null }>, storage: FileStorage, dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-bootcut-'))
  dirs.push(dir)
  const written = new FileStorage(dir)
  written.setHardState(hardState); written.sync(); written.close()
  const storage = new FileStorage(dir)
  const raft = new RaftNode({
    id: 'a', tickMs: 2, electionTicks: 4, heartbeatTicks: 1, retryIntervalMs: 50, operationTimeoutMs: 10_000, bootstrap: true, seed: 1
  }, { storage, transport: { send: () => {}, setHandler: () => {} }, stateMachine: new KvMachine(), logger: silentLogger })
  raft.start()
  nodes.push(raft)
  return { raft, storage, dir }
}

async function until (condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) return false
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  return true
}

describe('RaftNode bootstrap after a power cut', () => {
  it('should bootstrap again when only the bootstrap hard state reached the disk, then lead and commit', async () => {
    const { raft } = startOn({ term: 1, vote: 'a', commit: 1 })
    expect(await until(() => raft.isLeader(), 5_000)).toBe(true)
    await raft.propose(put('k', 'v'))
  })

  it('should not bootstrap over an empty log whose hard state bootstrapping never writes', () => {
    const { raft, storage, dir } = startOn({ term: 1, vote: 'b', commit: 0 })
    raft.stop(); storage.close()
    const reopened = new FileStorage(dir)
    expect(reopened.load()).toEqual({ hardState: { term: 1, vote: 'b', commit: 0 }, entries: [] })
    reopened.close()
  })
})
