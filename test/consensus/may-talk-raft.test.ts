/**
 * Who may use the Raft protocol with this node (`mayTalkRaft`, issue 16): the members of its applied
 * configuration, and any other connected (key-holding) peer its applied shape does not record as
 * removed — a node's configuration may lag, and the peer it does not know may be the leader or a
 * candidate that needs its vote. A removed member stays out even while connected.
 */
import { describe, expect, it } from 'vitest'
import { mayTalkRaft } from '../../src/consensus/admission.js'
import type { ConfState } from '../../src/consensus/core/types.js'

const conf = (voters: string[], learners: string[] = [], extra: Partial<ConfState> = {}): ConfState =>
  ({ voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false, ...extra })

describe('mayTalkRaft', () => {
  // This node's applied configuration lags: a voter it has never heard of now leads or campaigns.
  const lagging = conf(['a'], ['learner'])
  const laggingVoter = conf(['a', 'b', 'self'])

  it('should let a learner accept a connected peer missing from its configuration (a new leader it does not know)', () => {
    expect(mayTalkRaft('new-leader', lagging, { connected: true, removed: false })).toBe(true)
  })

  it('should let a voter accept a connected peer missing from its configuration (a candidate that needs its vote)', () => {
    expect(mayTalkRaft('candidate', laggingVoter, { connected: true, removed: false })).toBe(true)
  })

  it('should refuse a peer that is not connected (no cluster key shown) and is not in the configuration', () => {
    expect(mayTalkRaft('new-leader', lagging, { connected: false, removed: false })).toBe(false)
    expect(mayTalkRaft('candidate', laggingVoter, { connected: false, removed: false })).toBe(false)
  })

  it('should refuse a connected peer the applied shape records as removed', () => {
    expect(mayTalkRaft('old', laggingVoter, { connected: true, removed: true })).toBe(false)
    expect(mayTalkRaft('old', lagging, { connected: true, removed: true })).toBe(false)
  })

  it('should always accept the members of the configuration, connected or not', () => {
    for (const peer of ['a', 'b']) expect(mayTalkRaft(peer, laggingVoter, { connected: false, removed: false })).toBe(true)
    expect(mayTalkRaft('learner', lagging, { connected: false, removed: false })).toBe(true)
  })

  it('should count every part of a joint configuration as known', () => {
    const joint = conf(['a', 'b'], ['l'], { votersOutgoing: ['a', 'old'], learnersNext: ['demoted'] })
    for (const peer of ['a', 'b', 'l', 'old', 'demoted']) {
      expect(mayTalkRaft(peer, joint, { connected: false, removed: false })).toBe(true)
    }
  })

  it('should let a node not admitted yet (no voters known) accept the connected leader that admits it', () => {
    expect(mayTalkRaft('leader', conf([]), { connected: true, removed: false })).toBe(true)
    expect(mayTalkRaft('leader', conf([]), { connected: false, removed: false })).toBe(false)
  })
})
