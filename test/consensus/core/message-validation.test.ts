/**
 * Messages from a member that no correct node sends are dropped and counted before the core acts on
 * them (issue 9 items 2/3; found by the raft-step fuzz target, test/fuzz/regressions/raft-step/). Each
 * case pairs the bad message with its well-formed twin, which the same node accepts, so a check that
 * drops everything would fail too.
 */
import { describe, expect, it } from 'vitest'
import { MessageType, RawNode, createPrng } from '../../../src/consensus/core/index.js'
import type { Message } from '../../../src/consensus/core/index.js'
import { STEP_NUMBER_MAX } from '../../../src/consensus/core/constants.js'
import { decodeFrame, encodeFrame } from '../../../src/consensus/transport/wire.js'
import { conf, drainReady, entryAt, followerAtTerm3 } from './harness.js'

const CONF = conf(['a', 'b', 'c'])



/** A candidate of term 4 (campaigned from the follower above, pre-vote granted by b). */
function candidate (): RawNode {
  const node = followerAtTerm3()
  node.campaign()
  node.step(msg({ type: MessageType.PreVoteResp, term: 4 }))
  drainReady(node)
  expect(node.status().role).toBe('candidate')
  return node
}

/** A leader of term 4 (the candidate above, voted for by b), its last index 4 (its empty entry). */
function leader (): RawNode {
  const node = candidate()
  node.step(msg({ type: MessageType.VoteResp, term: 4 }))
  drainReady(node)
  expect(node.status().role).toBe('leader')
  expect(node.status().lastIndex).toBe(4)
  return node
}


function msg (extra: Partial<Message>): Message {
  return { type: MessageType.App, from: 'b', to: 'a', term: 3, index: 3, logTerm: 1, entries: [], commit: 0, reject: false, rejectHint: 0, ...extra }
}

const SNAP_META = { index: 10, term: 3, confState: CONF }
const snap = (extra: Partial<Message>): Message =>
  msg({ type: MessageType.Snap, term: 3, snapshotMeta: SNAP_META, snapshotChunk: new Uint8Array(1), snapshotOffset: 0, snapshotDone: false, ...extra })

const CASES: Array<{ name: string, start: () => RawNode, bad: Message, good: Message }> = [
  {
    name: 'an App of term 0 (which would move a candidate back to term 0)',
    start: candidate,
    bad: msg({ term: 0 }),
    good: msg({ term: 4 })
  },
  {
    name: 'a Snap whose meta term is above the message term',
    start: followerAtTerm3,
    bad: snap({ snapshotMeta: { ...SNAP_META, term: 5 } }),
    good: snap({})
  },
  {
    name: 'an App whose entry terms decrease',
    start: followerAtTerm3,
    bad: msg({ entries: [entryAt(4, 3), entryAt(5, 2)] }),
    good: msg({ entries: [entryAt(4, 2), entryAt(5, 3)] })
  },
  {
    name: 'an App with an entry below prevLogTerm',
    start: followerAtTerm3,
    bad: msg({ index: 3, logTerm: 2, entries: [entryAt(4, 1)] }),
    good: msg({ index: 3, logTerm: 1, entries: [entryAt(4, 1)] })
  },
  {
    name: 'an App with an entry above the message term',
    start: followerAtTerm3,
    bad: msg({ entries: [entryAt(4, 4)] }),
    good: msg({ entries: [entryAt(4, 3)] })
  },
  {
    name: 'an App whose term is above STEP_NUMBER_MAX',
    start: followerAtTerm3,
    bad: msg({ term: STEP_NUMBER_MAX + 1 }),
    good: msg({ term: STEP_NUMBER_MAX })
  },
  {
    name: 'a Heartbeat of term 0',
    start: followerAtTerm3,
    bad: msg({ type: MessageType.Heartbeat, term: 0, index: 0, logTerm: 0 }),
    good: msg({ type: MessageType.Heartbeat, term: 3, index: 0, logTerm: 0 })
  }
]

describe('RawNode.step on messages no correct member sends', () => {
  for (const c of CASES) {
    it(`should drop and count ${c.name}, and accept its well-formed twin`, () => {
      const node = c.start()
      const before = node.status()
      node.step(c.bad)
      node.checkInvariants()
      drainReady(node)
      node.checkInvariants()
      const after = node.status()
      expect(after.droppedMessages).toBe(before.droppedMessages + 1)
      expect([after.term, after.role, after.lastIndex, after.leader]).toEqual([before.term, before.role, before.lastIndex, before.leader])

      const twin = c.start()
      twin.step(c.good)
      drainReady(twin)
      twin.checkInvariants()
      expect(twin.status().droppedMessages).toBe(before.droppedMessages)
      expect(twin.status().leader).toBe('b')
    })
  }

  it('should drop and count a forwarded ReadIndex without a context, and serve one with a context', () => {
    const node = new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: createPrng(3) },
      { hardState: { term: 1, vote: null, commit: 0 }, entries: [] }, conf(['a']))
    node.campaign()
    drainReady(node)
    expect(node.status().role).toBe('leader')
    const dropped = node.status().droppedMessages
    node.step(msg({ type: MessageType.ReadIndex, term: 0, index: 0, logTerm: 0 }))
    node.step(msg({ type: MessageType.ReadIndex, term: 0, index: 0, logTerm: 0, context: new Uint8Array(0) }))
    expect(node.status().droppedMessages).toBe(dropped + 2)
    node.step(msg({ type: MessageType.ReadIndex, term: 0, index: 0, logTerm: 0, context: new Uint8Array([7]) }))
    const answers: Message[] = []
    while (node.hasReady()) {
      const rd = node.ready()
      answers.push(...rd.messages, ...rd.messagesAfterPersist)
      node.advance()
    }
    node.checkInvariants()
    expect(answers.filter((m) => m.type === MessageType.ReadIndexResp).map((m) => [m.to, m.context])).toEqual([['b', new Uint8Array([7])]])
  })

  it('should drop and count an AppResp acknowledging an index beyond the leader\'s log, and accept one within it', () => {
    const node = leader()
    const dropped = node.status().droppedMessages
    node.step(msg({ type: MessageType.AppResp, from: 'c', term: 4, index: 9 }))
    drainReady(node)
    node.checkInvariants()
    expect(node.status().droppedMessages).toBe(dropped + 1)
    expect(node.status().progress?.c?.match).toBe(0)
    node.step(msg({ type: MessageType.AppResp, from: 'c', term: 4, index: 4 }))
    drainReady(node)
    node.checkInvariants()
    expect(node.status().progress?.c?.match).toBe(4)
    expect(node.status().commit).toBe(4)
  })

  it('should send only frames peers decode after adopting the largest term a peer may send', () => {
    const node = followerAtTerm3()
    node.step(msg({ type: MessageType.Heartbeat, term: STEP_NUMBER_MAX, index: 0, logTerm: 0 }))
    drainReady(node)
    expect(node.status().term).toBe(STEP_NUMBER_MAX)
    node.campaign()
    const sent: Message[] = []
    while (node.hasReady()) {
      const rd = node.ready()
      sent.push(...rd.messages, ...rd.messagesAfterPersist)
      node.advance()
    }
    expect(sent.map((m) => m.type)).toContain(MessageType.PreVote)
    for (const m of sent) expect(decodeFrame(encodeFrame(m)).term).toBe(m.term)
  })
})
