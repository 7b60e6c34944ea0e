/**
 * Power loss, not just SIGKILL (issue 10 item 5). Goal: no acknowledged proposal is ever lost and the node
 * always restarts, whatever instant the power goes. Method: a single-voter RaftNode over FileStorage on a
 * PowerCutFs (which keeps only fsynced data and fsynced directory entries, plus a random torn prefix of
 * what was written after) runs a workload that rotates segments, takes snapshots and compacts. A dry run
 * counts the mutating fs calls; then for every cut point k the workload runs again with the power cut at
 * call k, the disk reverts to what survives, a new node opens it, and every proposal that was acknowledged
 * before the cut must be in its state machine. Removing any fdatasync on the commit path (FileStorage.sync,
 * the driver's mustSync, the new segment's or a snapshot's fsync), or the fsync of the Raft directory's
 * parent after FileStorage creates it (makeDirDurable), turns this red.
 * REVOADA_POWER_CUT_STRIDE=n tries every n-th cut point (default 1: all); a failure prints its seed.
 */
import { describe, expect, it } from 'vitest'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import { FileStorage } from '../../../src/consensus/storage/file-storage.js'
import { createPrng } from '../../../src/consensus/core/index.js'
import { KvMachine, put, silentLogger } from '../driver/harness.js'
import { PowerCutFs } from './power-cut-fs.js'

const DIR = '/raft'
const PROPOSALS = 24
const BASE_SEED = Number(process.env.REVOADA_POWER_CUT_SEED ?? 20261201)
const STRIDE = Number(process.env.REVOADA_POWER_CUT_STRIDE ?? 1)

interface Node { raft: RaftNode<{ previous: string | null }>, machine: KvMachine, storage: FileStorage }

function startOn (disk: PowerCutFs): Node {
  const storage = new FileStorage(DIR, { fs: disk, segmentBytesMax: 400 })
  const machine = new KvMachine()
  const raft = new RaftNode({
    id: 'a', tickMs: 2, electionTicks: 4, heartbeatTicks: 1, retryIntervalMs: 50, operationTimeoutMs: 60_000,
    bootstrap: true, snapshotEveryEntries: 7, retainEntries: 2, seed: 1
  }, { storage, transport: { send: () => {}, setHandler: () => {} }, stateMachine: machine, logger: silentLogger })
  raft.start()
  return { raft, machine, storage }
}

async function until (condition: () => boolean, label: string): Promise<void> {
  const end = Date.now() + 20_000
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** Runs the workload until it ends or the power goes; returns the keys whose proposal was acknowledged. */
async function workload (disk: PowerCutFs): Promise<string[]> {
  const acked: string[] = []
  let node: Node
  try {
    node = startOn(disk)
  } catch (err) {
    if (disk.dead) return acked // the power went while the node was opening or bootstrapping
    throw err
  }
  try {
    await until(() => node.raft.isLeader() || disk.dead, 'leader')
    for (let i = 0; i < PROPOSALS && !disk.dead; i += 3) {
      // Three at a time, so batches carry several entries (group commit).
      const batch = [i, i + 1, i + 2].map(async (k) => {
        await node.raft.propose(put(`k${k}`, `v${k}`))
        acked.push(`k${k}`)
      })
      const all = Promise.allSettled(batch)
      await Promise.race([all, until(() => disk.dead, 'power cut')])
    }
  } finally {
    node.raft.stop()
    node.storage.close()
  }
  return acked
}

async function cutAndCheck (cutAt: number): Promise<void> {
  const seed = BASE_SEED + cutAt
  // DIR does not exist yet: FileStorage makes it, and a power cut before its parent's fsync takes it all.
  const disk = new PowerCutFs()
  disk.cutAfterOps = cutAt
  const acked = await workload(disk)
  const prng = createPrng(seed)
  disk.powerCut(() => prng.nextInt(1 << 30) / (1 << 30))
  let node: Node
  try {
    node = startOn(disk)
  } catch (err) {
    throw new Error(`cut at op ${cutAt} (seed ${seed}): the node does not restart: ${(err as Error).message}`)
  }
  try {
    await until(() => node.raft.isLeader(), `leader after restart (cut at op ${cutAt}, seed ${seed})`)
    await node.raft.read()
    const lost = acked.filter((k) => node.machine.map.get(k) !== `v${k.slice(1)}`)
    if (lost.length > 0) throw new Error(`cut at op ${cutAt} (seed ${seed}): acknowledged proposals lost: ${lost.join(', ')}`)
  } finally {
    node.raft.stop()
    node.storage.close()
  }
}

describe('power loss under FileStorage', () => {
  it('should lose no acknowledged proposal and restart, whichever fs call the power cut hits', async () => {
    const dry = new PowerCutFs()
    const all = await workload(dry)
    expect(all).toHaveLength(PROPOSALS)
    const total = dry.ops
    console.log(`power-loss: ${total} mutating fs calls; files ${dry.readdirSync(DIR).join(" ")}`)
    expect(total).toBeGreaterThan(PROPOSALS)
    const failures: string[] = []
    let tried = 0
    for (let cutAt = 1; cutAt <= total + 1; cutAt += STRIDE) {
      tried++
      try {
        await cutAndCheck(cutAt)
      } catch (err) {
        failures.push((err as Error).message)
        if (failures.length >= 3) break
      }
    }
    expect(failures, `${tried} cut points of ${total + 1}`).toEqual([])
  }, 600_000)
})
