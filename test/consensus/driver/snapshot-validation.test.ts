/**
 * Goal: a snapshot from the leader that this node could not restore is refused before anything is
 * persisted (issue 9 item 5): counted, answered with a rejection, the node keeps running, and a good
 * snapshot afterwards installs. Before, the bad one was saved and then threw while restoring, which
 * stopped the node at once and again at every start.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { MessageTransport } from '../../../src/consensus/raft-node.js'
import { encodeNodeSnapshot } from '../../../src/consensus/node-snapshot.js'
import { MessageType, ProposalSessions } from '../../../src/consensus/core/index.js'
import type { Message, SnapshotMeta } from '../../../src/consensus/core/index.js'
import { MemoryStorage } from '../sim/memory-storage-shim.js'
import { KvMachine, silentLogger, waitUntil } from './harness.js'

const meta: SnapshotMeta = {
  index: 5, term: 1, confState: { voters: ['a'], votersOutgoing: [], learners: ['b'], learnersNext: [], autoLeave: false }
}

function snap (data: Uint8Array, index = meta.index): Message {
  return {
    type: MessageType.Snap, from: 'a', to: 'b', term: 1, index, logTerm: 1, entries: [], commit: 0, reject: false,
    rejectHint: 0, snapshotMeta: { ...meta, index }, snapshotChunk: data, snapshotOffset: 0, snapshotDone: true
  }
}

describe('snapshots from the leader', () => {
  const nodes: RaftNode<unknown>[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.stop() })

  it('should refuse and count a snapshot it cannot restore, persist nothing, and install a good one after', async () => {
    let handler: (m: Message) => void = () => {}
    const sent: Message[] = []
    const transport: MessageTransport = { send: (m) => sent.push(m), setHandler: (h) => { handler = h } }
    const storage = new MemoryStorage()
    const machine = new KvMachine()
    const node = new RaftNode<unknown>({ id: 'b', tickMs: 10, electionTicks: 10, heartbeatTicks: 1 },
      { storage, transport, stateMachine: machine, logger: silentLogger })
    node.start()
    nodes.push(node)
    const garbage = [
      new Uint8Array([1, 2, 3]),
      encodeNodeSnapshot({ machine: new Uint8Array([0xff]), sessions: new ProposalSessions().encode() }),
      encodeNodeSnapshot({ machine: new KvMachine().snapshot(), sessions: { maxClients: 1, maxSeqsPerClient: 1, clients: [1, 2] } })
    ]
    for (const data of garbage) handler(snap(data))
    await waitUntil(() => node.status().rejectedSnapshots === garbage.length, 5000, 'bad snapshots refused')
    await waitUntil(() => sent.filter((m) => m.type === MessageType.SnapResp && m.reject).length === garbage.length, 5000, 'rejections sent')
    expect(node.appliedIndex()).toBe(0)
    expect(storage.load().snapshot).toBeUndefined()
    const good = new KvMachine()
    good.map.set('k', 'v')
    handler(snap(encodeNodeSnapshot({ machine: good.snapshot(), sessions: new ProposalSessions().encode() }), 6))
    await waitUntil(() => node.appliedIndex() === 6, 5000, 'good snapshot installed')
    expect(machine.map.get('k')).toBe('v')
  })
})
