/**
 * The driver under a disk that cannot write, and a node that lost its raft directory (issue 10 items 3
 * and 4). Goal: a node whose disk is full acknowledges nothing it has not written, refuses proposals with a
 * typed error, says so in its storage health, lets the rest of the cluster carry on, and resumes by itself
 * when space returns; a node that lost its log never votes and comes back as a learner. Method: RaftNodes
 * over FileStorage on a FaultyFs (quota of bytes → short write then ENOSPC) and a loopback network.
 */
import { afterEach, describe, expect, it } from 'vitest'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { MessageTransport } from '../../../src/consensus/raft-node.js'
import { FileStorage } from '../../../src/consensus/storage/file-storage.js'
import { MessageType } from '../../../src/consensus/core/index.js'
import type { Message } from '../../../src/consensus/core/index.js'
import { KvMachine, LoopbackNetwork, put, silentLogger, waitUntil } from './harness.js'
import { FaultyFs } from '../storage/faulty-fs.js'

interface FileNode { id: string, dir: string, received: Message[], raft: RaftNode<{ previous: string | null }>, machine: KvMachine, disk: FaultyFs, storage: FileStorage, sent: Message[] }

const running: FileNode[] = []
const dirs: string[] = []
afterEach(() => {
  for (const n of running.splice(0)) { n.raft.stop(); n.storage.close() }
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

function startFileNode (network: LoopbackNetwork, id: string, options: { dir?: string, bootstrap?: boolean, rejoinAsLearner?: boolean, requestRejoin?: () => Promise<unknown> } = {}): FileNode {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `revoada-disk-${id}-`))
  if (options.dir === undefined) dirs.push(dir)
  const disk = new FaultyFs()
  // No pre-written WAL space: the quota then stops the next append (a full disk with pre-written space is
  // test/consensus/storage/preallocated.test.ts).
  const storage = new FileStorage(dir, { fs: disk, preallocateBytes: 0 })
  const machine = new KvMachine()
  const sent: Message[] = []
  const inner = network.transport(id)
  const received: Message[] = []
  const transport: MessageTransport = {
    send: (m) => { sent.push(m); inner.send(m) },
    setHandler: (h) => { inner.setHandler((m) => { h(m); received.push(m) }) }
  }
  const raft = new RaftNode({
    id, tickMs: 10, electionTicks: 10, heartbeatTicks: 1, retryIntervalMs: 100, operationTimeoutMs: 20_000,
    bootstrap: options.bootstrap ?? false, rejoinAsLearner: options.rejoinAsLearner ?? false, snapshotEveryEntries: 10_000
  }, { storage, transport, stateMachine: machine, logger: silentLogger, ...(options.requestRejoin !== undefined ? { requestRejoin: options.requestRejoin } : {}) })
  raft.start()
  const node = { id, dir, received, raft, machine, disk, storage, sent }
  running.push(node)
  return node
}

async function threeNodes (network: LoopbackNetwork): Promise<FileNode[]> {
  const a = startFileNode(network, 'a', { bootstrap: true })
  await waitUntil(() => a.raft.isLeader(), 10_000, 'a leads')
  const nodes = [a]
  for (const id of ['b', 'c']) {
    nodes.push(startFileNode(network, id))
    a.raft.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: id }], transition: 'auto' })
    await waitUntil(() => a.raft.configuration().voters.includes(id), 10_000, `${id} voter`)
  }
  return nodes
}

describe('RaftNode on a disk that cannot write', () => {
  it('should not acknowledge, refuse proposals while full, report it, and resume by itself when space returns', async () => {
    const network = new LoopbackNetwork()
    const a = startFileNode(network, 'a', { bootstrap: true })
    await waitUntil(() => a.raft.isLeader(), 10_000, 'leader')
    await a.raft.propose(put('before', '1'))
    a.disk.spaceLeftBytes = 10
    let settled = false
    const stuck = a.raft.propose(put('during', '2')).then((r) => { settled = true; return r })
    await waitUntil(() => !a.raft.storageHealth().writable, 10_000, 'stalled')
    expect(a.raft.storageHealth().error).toMatch(/no space left/)
    await expect(a.raft.propose(put('refused', '3'))).rejects.toHaveProperty('name', 'StorageUnavailableError')
    await expect(a.raft.read()).rejects.toHaveProperty('name', 'StorageUnavailableError')
    expect(settled).toBe(false) // not written, so not acknowledged
    expect(a.machine.map.has('during')).toBe(false)
    a.disk.spaceLeftBytes = undefined
    const result = await stuck
    expect(result.result.previous).toBeNull()
    expect(a.raft.storageHealth()).toEqual({ writable: true })
    await a.raft.propose(put('after', '4'))
    a.raft.stop(); a.storage.close(); running.splice(0)
    const reopened = new FileStorage(a.dir).load()
    expect(reopened.entries.length).toBeGreaterThanOrEqual(4) // conf change, before, during, after
  })

  it('should let the rest of the cluster elect a new leader and commit while the leader\'s disk is full', async () => {
    const network = new LoopbackNetwork()
    const [a, b, c] = await threeNodes(network) as [FileNode, FileNode, FileNode]
    await a.raft.propose(put('k0', 'v'))
    a.disk.spaceLeftBytes = 0
    a.raft.propose(put('k1', 'v')).catch(() => {}) // stays unacknowledged while a cannot write
    await waitUntil(() => !a.raft.storageHealth().writable, 10_000, 'a stalled')
    await waitUntil(() => b.raft.isLeader() || c.raft.isLeader(), 20_000, 'new leader among b, c')
    const leader = b.raft.isLeader() ? b : c
    await leader.raft.propose(put('k2', 'v'))
    expect(a.raft.storageHealth().writable).toBe(false)
    a.disk.spaceLeftBytes = undefined
    await waitUntil(() => a.raft.storageHealth().writable && a.machine.map.get('k2') === 'v', 20_000, 'a caught up')
    await waitUntil(() => a.raft.appliedIndex() === leader.raft.appliedIndex(), 20_000, 'same applied index')
  })
})

describe('RaftNode rejoining after its raft directory was lost', () => {
  it('should never vote or campaign, ask to be a learner, and catch up as one', async () => {
    const network = new LoopbackNetwork()
    const [a, b] = await threeNodes(network) as [FileNode, FileNode, FileNode]
    for (let i = 0; i < 5; i++) await a.raft.propose(put(`k${i}`, 'v'))
    b.raft.stop(); b.storage.close(); running.splice(running.indexOf(b), 1)
    network.remove('b')
    network.isolate('b', ['a']) // b hears no leader yet, so nothing but the rule stops it from voting
    // The consensus service proposes the signed `rejoin` shape command, from which the leader derives the
    // removal (test/consensus/shape-command-rules.test.ts); this driver-level stand-in does the leader's part.
    let requests = 0
    const requestRejoin = async (): Promise<void> => {
      requests++
      if (a.raft.configuration().voters.includes('b')) a.raft.proposeConfChange({ steps: [{ type: 'remove', nodeId: 'b' }], transition: 'auto' })
    }
    const fresh = startFileNode(network, 'b', { rejoinAsLearner: true, requestRejoin })
    expect(fresh.raft.isRejoining()).toBe(true)
    // A candidate asks for b's vote in a term b may already have voted in before it lost its state.
    const vote: Message = { type: MessageType.Vote, from: 'c', to: 'b', term: 50, index: 100, logTerm: 49, entries: [], commit: 0, reject: false, rejectHint: 0 }
    network.transport('c').send(vote)
    await waitUntil(() => fresh.received.some((m) => m.type === MessageType.Vote), 10_000, 'vote request handled')
    network.heal()
    await waitUntil(() => fresh.raft.status().leader === 'a', 20_000, 'b hears the leader (after the vote request)')
    await waitUntil(() => requests > 0 && !a.raft.configuration().voters.includes('b'), 20_000, 'b asked to be removed')
    expect(fresh.raft.isRejoining()).toBe(true)
    // What the consensus service's admission does for a removed member still in the shape.
    a.raft.proposeConfChange({ steps: [{ type: 'add-learner', nodeId: 'b' }], transition: 'auto' })
    await waitUntil(() => !fresh.raft.isRejoining() && fresh.machine.map.get('k4') === 'v', 20_000, 'b caught up as a learner')
    expect(a.raft.configuration().voters).toEqual(['a', 'c'])
    const voteTypes = new Set([MessageType.Vote, MessageType.PreVote, MessageType.VoteResp, MessageType.PreVoteResp])
    expect(fresh.sent.filter((m) => voteTypes.has(m.type))).toEqual([])
  })
})
