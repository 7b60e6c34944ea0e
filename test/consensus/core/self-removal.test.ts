/**
 * A leader that appended a configuration change removing itself refuses proposals until it leaves. When the
 * change does not take effect — the machine refused the command carrying it, so the driver never applied it —
 * the leader must take proposals again, not refuse them for the rest of its term (found by an audit: a
 * forwarded `rejoin` naming the leader did exactly that).
 */
import { describe, expect, it } from 'vitest'
import { EntryType, MessageType, RawNode, createPrng } from '../../../src/consensus/core/index.js'
import type { ConfChange, ConfState, Message } from '../../../src/consensus/core/index.js'

const LEADER = 'L'
const CONF: ConfState = { voters: ['A', 'B', LEADER], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
const REMOVE_LEADER: ConfChange = { steps: [{ type: 'remove', nodeId: LEADER }], transition: 'auto' }

/** A leader of CONF at term 2 with its first entry committed; `applyChanges` says whether the driver applies a change. */
function leaderNode (applyChanges: boolean): { node: RawNode, drain: () => void, ack: () => void } {
  const node = new RawNode({ id: LEADER, electionTicks: 10, heartbeatTicks: 1, random: createPrng(1) }, { hardState: { term: 1, vote: null, commit: 0 }, entries: [] }, CONF)
  const drain = (): void => {
    while (node.hasReady()) {
      const ready = node.ready()
      for (const entry of ready.committedEntries) {
        if (applyChanges && entry.type === EntryType.ConfChange) node.applyConfChange(REMOVE_LEADER)
      }
      node.advance()
    }
  }
  const msg = (type: MessageType, extra: Partial<Message> = {}): Message =>
    ({ type, from: 'A', to: LEADER, term: node.status().term, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...extra }) as Message
  node.campaign(); drain()
  node.step(msg(MessageType.PreVoteResp, { term: node.status().term + 1 })); drain()
  node.step(msg(MessageType.VoteResp)); drain()
  const ack = (): void => { node.step(msg(MessageType.AppResp, { index: node.status().lastIndex })); drain() }
  ack()
  expect(node.status().role).toBe('leader')
  return { node, drain, ack }
}

describe('a leader whose own removal was appended', () => {
  it('should take proposals again once that change is applied without removing it', () => {
    const { node, ack } = leaderNode(false)
    node.proposeConfChange(REMOVE_LEADER)
    expect(() => node.propose(new Uint8Array([1]))).toThrow(/leaving the configuration/)
    ack() // committed and applied; the driver, its command refused, never applied the change
    expect(node.status().confState.voters).toContain(LEADER)
    expect(() => node.propose(new Uint8Array([1]))).not.toThrow()
  })

  it('should keep refusing them once the change did remove it', () => {
    const { node, ack } = leaderNode(true)
    node.proposeConfChange(REMOVE_LEADER)
    ack()
    expect(node.status().confState.voters).not.toContain(LEADER)
    expect(() => node.propose(new Uint8Array([1]))).toThrow()
  })
})
