/**
 * Who may use the Raft protocol with this node (`mayTalkRaft`, issue 16): a voter keeps to its
 * configuration (a leader also hears the connected peers it admits); a node that is not a voter accepts
 * any connected, key-holding peer, so a learner whose applied configuration lags still follows a leader it
 * does not know yet.
 */
import { describe, expect, it } from 'vitest'
import { mayTalkRaft } from '../../src/consensus/admission.js'
import type { ConfState } from '../../src/consensus/core/types.js'

const conf = (voters: string[], learners: string[] = [], extra: Partial<ConfState> = {}): ConfState =>
  ({ voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false, ...extra })

describe('mayTalkRaft', () => {
  // The learner's applied configuration lags: a voter it has never heard of now leads.
  const lagging = conf(['a'], ['learner'])

  it('should let a learner accept a connected peer missing from its configuration (a new leader it does not know)', () => {
    expect(mayTalkRaft('new-leader', lagging, { isLeader: false, selfIsVoter: false, connected: true })).toBe(true)
  })

  it('should keep a learner from accepting a peer that is not connected (no cluster key shown)', () => {
    expect(mayTalkRaft('new-leader', lagging, { isLeader: false, selfIsVoter: false, connected: false })).toBe(false)
  })

  it('should keep a voter follower to its configuration', () => {
    const voters = conf(['a', 'b', 'c'], ['learner'])
    expect(mayTalkRaft('stranger', voters, { isLeader: false, selfIsVoter: true, connected: true })).toBe(false)
    expect(mayTalkRaft('b', voters, { isLeader: false, selfIsVoter: true, connected: false })).toBe(true)
    expect(mayTalkRaft('learner', voters, { isLeader: false, selfIsVoter: true, connected: false })).toBe(true)
  })

  it('should count every part of a joint configuration as known', () => {
    const joint = conf(['a', 'b'], ['l'], { votersOutgoing: ['a', 'old'], learnersNext: ['demoted'] })
    for (const peer of ['a', 'b', 'l', 'old', 'demoted']) {
      expect(mayTalkRaft(peer, joint, { isLeader: false, selfIsVoter: true, connected: false })).toBe(true)
    }
    expect(mayTalkRaft('stranger', joint, { isLeader: false, selfIsVoter: true, connected: true })).toBe(false)
  })

  it('should let a leader accept a connected peer it is about to admit, and nobody unconnected', () => {
    const voters = conf(['a'])
    expect(mayTalkRaft('joiner', voters, { isLeader: true, selfIsVoter: true, connected: true })).toBe(true)
    expect(mayTalkRaft('joiner', voters, { isLeader: true, selfIsVoter: true, connected: false })).toBe(false)
  })

  it('should let a node not admitted yet (no voters known) accept the connected leader that admits it', () => {
    expect(mayTalkRaft('leader', conf([]), { isLeader: false, selfIsVoter: false, connected: true })).toBe(true)
    expect(mayTalkRaft('leader', conf([]), { isLeader: false, selfIsVoter: false, connected: false })).toBe(false)
  })
})
