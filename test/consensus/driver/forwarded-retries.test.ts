/**
 * Goal: a follower's retry of something it forwarded (issue 16) — a request for the leader's envelope, or a
 * signed proposal — is not committed again when the leader knows the follower will apply the first copy:
 * that copy is in the leader's log for its term and not applied yet, or applied there and held in the
 * follower's log (src/consensus/forwarded-proposals.ts `forwardedRetrySkippable`, `appliedAndHeldBy`). A follower retries
 * every retry interval until it has applied the entry that answers it; a starved follower used to get its retries
 * committed again as duplicate entries that every node applied (a 50-node leader kill: 86 entries for ~44
 * writes). A follower whose log lacks the entry still gets it again, and one a snapshot brings past the entry
 * answers its callers from the snapshot's session table (`settleCoveredBySnapshot`).
 * Method: a leads, b (and d) are voters, all with the real MeshShape machine and rules; the test is a's request
 * intake and proposes the envelope that carries b's request. It interferes with a's messages to b only: it
 * rewrites their commit index below the entry (as if those notices were lost: b holds and acknowledged the
 * entry, cannot apply it, and retries), or drops a's appends (b's log lacks the entry).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { MessageTransport } from '../../../src/consensus/raft-node.js'
import { EntryType, MessageType } from '../../../src/consensus/core/index.js'
import { encodeEntryPayload } from '../../../src/consensus/entry-payload.js'
import type { Message, NodeId, ProposalId } from '../../../src/consensus/core/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import { shapeCommandRules } from '../../../src/consensus/shape-command-rules.js'
import { MeshShape, encodeRequest } from '../../../src/consensus/shape/core/index.js'
import type { ApplyResult, BatchedCommand } from '../../../src/consensus/shape/core/index.js'
import { MemoryStorage } from '../sim/memory-storage-shim.js'
import { silentLogger, waitUntil } from './harness.js'
import { newSigner } from '../shape/helpers.js'

const CLUSTER = 'cluster-1'
const RETRY_MS = 50

/** What the test does to a's messages to b: nothing, lower their commit index below `belowIndex`, or drop appends. */
type Interference = { kind: 'none' } | { kind: 'hide-commit', belowIndex: number } | { kind: 'drop-appends' }

describe('a follower\'s retries at the leader', () => {
  let a: Signer, b: Signer, c: Signer, d: Signer
  beforeAll(async () => { [a, b, c, d] = await Promise.all([newSigner(), newSigner(), newSigner(), newSigner()]) })
  const nodes: RaftNode<ApplyResult>[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.stop() })

  const promote = (id: string): BatchedCommand => ({ command: { kind: 'promote', nodeId: id, roles: ['scheduler'] }, reason: 'operator' })

  /** a leads; b (and `third` when given) are voters; the test is a's intake (`taken`). */
  async function voters (third?: Signer, options: { snapshotEveryEntries?: number } = {}) {
    const handlers = new Map<NodeId, (m: Message) => void>()
    let interference: Interference = { kind: 'none' }
    const transport = (id: NodeId): MessageTransport => ({
      send: (message) => {
        let m = structuredClone(message)
        if (m.from === a.nodeId && m.to === b.nodeId) {
          if (interference.kind === 'drop-appends' && (m.type === MessageType.App || m.type === MessageType.Snap)) return
          if (interference.kind === 'hide-commit' && (m.type === MessageType.App || m.type === MessageType.Heartbeat)) {
            m = { ...m, commit: Math.min(m.commit, interference.belowIndex - 1) }
          }
        }
        setImmediate(() => handlers.get(m.to)?.(m))
      },
      setHandler: (handler) => { handlers.set(id, handler) }
    })
    const members = [[a.nodeId, ['api-server', 'etcd', 'scheduler', 'controller-manager']], [b.nodeId, []], [c.nodeId, []]]
      .sort((x, y) => String(x[0]).localeCompare(String(y[0])))
    const shape = encodeCanonical(MeshShape.fromData({ members, target: { apiServers: 1, etcd: 1, schedulers: 3, controllerManagers: 1, minWorkers: 0 } }).toData())
    const taken: ProposalId[] = []
    const start = (signer: Signer, bootstrap: boolean, take?: (command: Uint8Array, id: ProposalId | undefined) => Error | null) => {
      const machine = new ShapeMachine(CLUSTER)
      machine.restore(shape)
      const node = new RaftNode<ApplyResult>({
        id: signer.nodeId, clientId: `${signer.nodeId}/driver`, tickMs: 10, electionTicks: 20, heartbeatTicks: 1, bootstrap, retryIntervalMs: RETRY_MS,
        ...(options.snapshotEveryEntries !== undefined ? { snapshotEveryEntries: options.snapshotEveryEntries, retainEntries: 0 } : {})
      }, {
        storage: new MemoryStorage(), transport: transport(signer.nodeId), stateMachine: machine, logger: silentLogger,
        commandRules: shapeCommandRules(() => machine.shape), ...(take !== undefined ? { takeRequest: take } : {})
      })
      node.start()
      nodes.push(node)
      return { node, machine }
    }
    const leader = start(a, true, (_command, id) => { if (id !== undefined) taken.push(id); return null })
    await waitUntil(() => leader.node.isLeader(), 5000, 'a leads')
    const follower = start(b, false)
    for (const [k, signer] of [b, ...(third !== undefined ? [third] : [])].entries()) {
      if (signer !== b) start(signer, false)
      leader.node.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: signer.nodeId }], transition: 'auto', enterJoint: true })
      await waitUntil(() => follower.node.configuration().voters.length === k + 2 && follower.node.configuration().votersOutgoing.length === 0, 5000, `${k + 2} voters, known to b`)
    }
    /** A forwarded request as `from` would send it, handed straight to a. */
    const inject = (from: NodeId, bytes: Uint8Array, id: ProposalId): void => handlers.get(a.nodeId)?.({
      type: MessageType.Prop, from, to: a.nodeId, term: 0, index: 0, logTerm: 0, commit: 0, reject: false, rejectHint: 0,
      entries: [{ index: 0, term: 0, type: EntryType.Normal, data: encodeEntryPayload({ command: bytes, timeMs: 0 }), proposalId: id }]
    })
    return { leader, follower, taken, inject, proposer: new ShapeProposer(a, CLUSTER, `${a.nodeId}/s`), interfere: (i: Interference) => { interference = i } }
  }

  it('should not queue again a request retry whose entry the follower already holds, and answer it from that entry', async () => {
    // d, a third voter, holds every entry too: only the id's owner tells its copy from b's retry.
    const { leader, follower, taken, proposer, interfere, inject } = await voters(d)
    const id = { clientId: `${b.nodeId}/s.r`, seq: 1 }
    const group = { commands: [promote(c.nodeId)], via: id }
    const answer = follower.node.propose(encodeRequest({ id, commands: group.commands }))
    await waitUntil(() => taken.length === 1, 5000, 'a took b\'s request')
    // From the entry that carries it on, b hears of no commit that reaches it.
    interfere({ kind: 'hide-commit', belowIndex: leader.node.status().lastIndex + 1 })
    const applied = await leader.node.propose(proposer.buildMerged([], [group], 1).bytes)
    expect(leader.machine.shape.rolesOf(c.nodeId)).toEqual(['scheduler'])
    // b holds the entry (a knows it: b acknowledged it) and retries, every RETRY_MS.
    await waitUntil(() => leader.node.counters().retriesSkipped >= 2, 5000, 'b\'s retries reached a')
    expect(taken).toEqual([id])
    expect(follower.node.status().commit).toBeLessThan(applied.index)
    // The same request id sent by d, whose log holds the entry too, is not skipped as a retry of d's own: the
    // intake sees it (the real intake refuses a request whose id names another node, and counts it).
    const before = leader.node.counters().retriesSkipped
    inject(d.nodeId, encodeRequest({ id, commands: group.commands }), id)
    await waitUntil(() => taken.length === 2, 5000, 'a foreign copy reached the intake')
    expect(leader.node.counters().retriesSkipped).toBe(before)
    interfere({ kind: 'none' })
    const result = await answer
    expect(result).toMatchObject({ index: applied.index, duplicate: false })
  })

  it('should not append a forwarded proposal\'s retry again while its copy is on the way, or held by the follower', async () => {
    const { leader, follower, interfere } = await voters()
    interfere({ kind: 'hide-commit', belowIndex: leader.node.status().lastIndex + 1 })
    const byB = new ShapeProposer(b, CLUSTER, `${b.nodeId}/s`)
    const answer = follower.node.propose(byB.build(follower.machine.shape, { kind: 'restore', nodeId: c.nodeId }, 'operator', 1).bytes)
    await waitUntil(() => leader.node.counters().retriesSkipped >= 3, 5000, 'b\'s retries reached a')
    const appended = leader.node.status().lastIndex
    interfere({ kind: 'none' })
    const result = await answer
    // One entry carried it: the retries added none.
    expect(result).toMatchObject({ index: appended, duplicate: false })
    expect(leader.node.status().lastIndex).toBe(appended)
    expect(leader.node.counters().duplicateCommands).toBe(0)
    expect(follower.node.counters().duplicateCommands).toBe(0)
  })

  it('should queue a retry again while the follower\'s log may lack the entry that applied it', async () => {
    // Three voters: a and d commit without b, whose appends are dropped, so b's log lacks the entry.
    const { leader, follower, taken, proposer, interfere } = await voters(d)
    const id = { clientId: `${b.nodeId}/s.r`, seq: 1 }
    void follower.node.propose(encodeRequest({ id, commands: [promote(c.nodeId)] })).catch(() => {})
    await waitUntil(() => taken.length === 1, 5000, 'a took b\'s request')
    interfere({ kind: 'drop-appends' })
    await leader.node.propose(proposer.buildMerged([], [{ commands: [promote(c.nodeId)], via: id }], 1).bytes)
    expect(leader.machine.shape.rolesOf(c.nodeId)).toEqual(['scheduler'])
    await waitUntil(() => taken.length >= 2, 5000, 'b\'s retry taken again')
    expect(leader.node.counters().retriesSkipped).toBe(0)
  })

  it('should answer a request a snapshot covered from the snapshot\'s session table', async () => {
    // Three voters, a snapshot every 4 entries: while b's appends are dropped, a and d apply b's request and
    // enough entries after it that a's log no longer holds it; b then catches up through a snapshot.
    const { leader, follower, taken, proposer, interfere } = await voters(d, { snapshotEveryEntries: 4 })
    const id = { clientId: `${b.nodeId}/s.r`, seq: 1 }
    const answer = follower.node.propose(encodeRequest({ id, commands: [promote(c.nodeId)] }))
    await waitUntil(() => taken.length === 1, 5000, 'a took b\'s request')
    interfere({ kind: 'drop-appends' })
    const applied = await leader.node.propose(proposer.buildMerged([], [{ commands: [promote(c.nodeId)], via: id }], 1).bytes)
    for (let k = 0; k < 8; k++) await leader.node.propose(proposer.build(leader.machine.shape, { kind: 'restore', nodeId: c.nodeId }, 'operator', 2 + k).bytes).catch(() => {})
    expect(leader.node.status().firstIndex).toBeGreaterThan(applied.index)
    interfere({ kind: 'none' })
    const result = await answer
    expect(result).toMatchObject({ index: applied.index, duplicate: false })
    expect(follower.node.status().applied).toBeGreaterThan(applied.index)
  })
})
