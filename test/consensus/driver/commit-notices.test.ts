/**
 * Goal: at one client a leader no longer sends a commit-only append per commit to each follower: the next
 * append (or heartbeat) carries the commit index (issue 16: two frames and socket writes per commit, and a
 * wake-up of each follower). A follower whose own forwarded proposal was committed is still told at once,
 * since its caller waits for it to apply. Method: record what the leader hands its transport while proposals
 * run one after another, through the leader and through a follower; the hold is long (60 s), so only a
 * replacement or the forwarded rule can end it within the test.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { decode, encode } from '@ipld/dag-cbor'
import { MessageType } from '../../../src/consensus/core/index.js'
import type { Message, NodeId, ProposalId } from '../../../src/consensus/core/index.js'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { CommandRules } from '../../../src/consensus/raft-node.js'
import type { ApplyContext, ApplyOutcome, ReplicatedStateMachine } from '../../../src/consensus/state-machine.js'
import { MemoryStorage } from '../sim/memory-storage-shim.js'
import { TappedNetwork, put, silentLogger, startThreeVoters, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

class NoticeNetwork extends TappedNetwork {
  commitOnlyTo (to: NodeId, from: number): Message[] {
    return this.sentByA.slice(from).filter((m) => m.to === to && m.type === MessageType.App && m.commitOnly === true)
  }
}

const HOLD_LONGER_THAN_THE_TEST_MS = 60_000

describe('RaftNode holds commit notices', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.raft.stop() })

  it('should let the next append or heartbeat carry the commit index of proposals made on the leader', async () => {
    const network = new NoticeNetwork()
    const [a, b, c] = await startThreeVoters(network, nodes, undefined, { commitNoticeHoldMs: HOLD_LONGER_THAN_THE_TEST_MS }) as [TestNode, TestNode, TestNode]
    const from = network.sentByA.length
    let index = 0
    for (let round = 0; round < 10; round++) index = (await a.raft.propose(put(`k${round}`, 'v'))).index
    await waitUntil(() => b.raft.status().commit >= index && c.raft.status().commit >= index, 10_000, 'followers learn the last commit')
    expect(network.commitOnlyTo('b', from)).toEqual([])
    expect(network.commitOnlyTo('c', from)).toEqual([])
  })

  it('should tell a follower at once that its forwarded proposal committed', async () => {
    const network = new NoticeNetwork()
    const [, b] = await startThreeVoters(network, nodes, undefined, { commitNoticeHoldMs: HOLD_LONGER_THAN_THE_TEST_MS }) as [TestNode, TestNode, TestNode]
    const from = network.sentByA.length
    for (let round = 0; round < 5; round++) {
      const { index } = await b.raft.propose(put(`k${round}`, 'v'))
      // b answered its caller, so it applied `index`: told by a commit notice, not a later heartbeat.
      expect(network.commitOnlyTo('b', from).some((m) => m.commit >= index), `round ${round}`).toBe(true)
    }
    expect(network.commitOnlyTo('c', from)).toEqual([])
  })
})

/**
 * A forwarded request (issue 16) reaches the leader's intake and rides in an envelope the leader proposes
 * itself: its follower must still be told of the commit at once. A minimal machine: a request is
 * `{q: [clientId, seq]}`, an envelope `{g: [[clientId, seq], …]}` whose ids apply once each.
 */
describe('RaftNode commit notices for forwarded requests', () => {
  const nodes: RaftNode<number>[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.stop() })

  const idOf = (pair: unknown): ProposalId => ({ clientId: (pair as [string, number])[0], seq: (pair as [string, number])[1] })
  const rules: CommandRules = {
    identify (command) {
      const value = decode(command) as { q?: unknown }
      if (value.q === undefined) return null
      const id = idOf(value.q)
      return { id, proposer: id.clientId.split('/')[0]! }
    },
    confChangeFor: () => null,
    isRequest: (command) => (decode(command) as { q?: unknown }).q !== undefined,
    requestIds: (command) => ((decode(command) as { g?: unknown[] }).g ?? []).map(idOf)
  }
  class GroupMachine implements ReplicatedStateMachine<number> {
    apply (command: Uint8Array, context: ApplyContext): ApplyOutcome<number> {
      const ids = ((decode(command) as { g?: unknown[] }).g ?? []).map(idOf)
      const groups = ids.filter((id) => context.requestLookup?.(id) === 'new').map((id) => ({ id, result: context.index }))
      return { result: context.index, accepted: true, ...(groups.length > 0 ? { groups } : {}) }
    }

    snapshot (): Uint8Array { return encode(0) }
    restore (): void {}
  }

  it('should tell a follower at once that the envelope carrying its forwarded request committed', async () => {
    const network = new NoticeNetwork()
    const taken: ProposalId[] = []
    const start = (id: string, bootstrap: boolean): RaftNode<number> => {
      const node = new RaftNode<number>({ id, tickMs: 10, electionTicks: 10, heartbeatTicks: 1, bootstrap, commitNoticeHoldMs: HOLD_LONGER_THAN_THE_TEST_MS }, {
        storage: new MemoryStorage(), transport: network.transport(id), stateMachine: new GroupMachine(), logger: silentLogger, commandRules: rules,
        takeRequest: (_command, requestId) => { if (requestId !== undefined) taken.push(requestId); return null }
      })
      node.start()
      nodes.push(node)
      return node
    }
    const a = start('a', true)
    await waitUntil(() => a.isLeader(), 5000, 'a leads')
    for (const id of ['b', 'c']) {
      start(id, false)
      a.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: id }], transition: 'auto', enterJoint: true })
      await waitUntil(() => a.configuration().voters.includes(id) && a.configuration().votersOutgoing.length === 0, 5000, `${id} voter`)
    }
    const b = nodes[1]!
    const from = network.sentByA.length
    for (let round = 1; round <= 3; round++) {
      const request = b.propose(encode({ q: ['b/r', round] }))
      await waitUntil(() => taken.length === round, 5000, 'the leader took the request')
      const { index } = await a.propose(encode({ g: [['b/r', round]] }))
      expect((await request).index).toBe(index)
      expect(network.commitOnlyTo('b', from).some((m) => m.commit >= index), `round ${round}`).toBe(true)
    }
    expect(network.commitOnlyTo('c', from)).toEqual([])
  })
})
