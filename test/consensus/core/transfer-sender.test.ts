/**
 * Only a voter may ask the leader to hand over (a stranger or a learner cannot): a transfer refuses
 * proposals for up to an election timeout, so anyone able to ask could stall the cluster at will.
 */
import { describe, expect, it } from 'vitest'
import { MessageType, RawNode, createPrng } from '../../../src/consensus/core/index.js'
import type { ConfState, Message } from '../../../src/consensus/core/index.js'

const LEADER = 'L'
const CONF: ConfState = { voters: ['A', 'B', LEADER], votersOutgoing: [], learners: ['X'], learnersNext: [], autoLeave: false }

function leader (): RawNode {
  const node = new RawNode({ id: LEADER, electionTicks: 10, heartbeatTicks: 1, random: createPrng(1) }, { hardState: { term: 1, vote: null, commit: 0 }, entries: [] }, CONF)
  const drain = (): void => { while (node.hasReady()) { node.ready(); node.advance() } }
  const from = (type: MessageType, extra: Partial<Message> = {}): Message =>
    ({ type, from: 'A', to: LEADER, term: node.status().term, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...extra }) as Message
  node.campaign(); drain()
  node.step(from(MessageType.PreVoteResp, { term: node.status().term + 1 })); drain()
  node.step(from(MessageType.VoteResp)); drain()
  expect(node.status().role).toBe('leader')
  return node
}

const transfer = (sender: string, transferee: string): Message =>
  ({ type: MessageType.TransferLeader, from: sender, to: LEADER, term: 0, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, transferee }) as Message

describe('a leadership transfer asked by a peer', () => {
  it('should be dropped from a stranger and from a learner, and proposals still taken', () => {
    const node = leader()
    node.step(transfer('Z', 'B'))
    node.step(transfer('X', 'B'))
    expect(node.status().leadTransferee).toBeNull()
    expect(() => node.propose(new Uint8Array([1]))).not.toThrow()
  })

  it('should start from a voter', () => {
    const node = leader()
    node.step(transfer('A', 'B'))
    expect(node.status().leadTransferee).toBe('B')
  })
})
