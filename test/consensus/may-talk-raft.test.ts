/**
 * Who may use the Raft protocol with this node (`mayTalkRaft`, issue 16): the members of its applied
 * configuration, and any other connected (key-holding) peer its applied shape does not record as
 * removed — a node's configuration may lag, and the peer it does not know may be the leader or a
 * candidate that needs its vote. A removed member stays out even while connected.
 */
import { describe, expect, it } from 'vitest'
import { mayTalkRaft } from '../../src/consensus/admission.js'
import type { MayTalkOptions } from '../../src/consensus/admission.js'
import type { ConfState } from '../../src/consensus/core/types.js'

const conf = (voters: string[], learners: string[] = [], extra: Partial<ConfState> = {}): ConfState =>
  ({ voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false, ...extra })

/** The peer's connection and removal as `mayTalkRaft` asks for them. */
const known = (connected: boolean, removed: boolean): MayTalkOptions => ({ connected: () => connected, removed: () => removed })

describe('mayTalkRaft', () => {
  // This node's applied configuration lags: a voter it has never heard of now leads or campaigns.
  const lagging = conf(['a'], ['learner'])
  const laggingVoter = conf(['a', 'b', 'self'])

  it('should let a learner accept a connected peer missing from its configuration (a new leader it does not know)', () => {
    expect(mayTalkRaft('new-leader', lagging, known(true, false))).toBe(true)
  })

  it('should let a voter accept a connected peer missing from its configuration (a candidate that needs its vote)', () => {
    expect(mayTalkRaft('candidate', laggingVoter, known(true, false))).toBe(true)
  })

  it('should refuse a peer that is not connected (no cluster key shown) and is not in the configuration', () => {
    expect(mayTalkRaft('new-leader', lagging, known(false, false))).toBe(false)
    expect(mayTalkRaft('candidate', laggingVoter, known(false, false))).toBe(false)
  })

  it('should refuse a connected peer the applied shape records as removed', () => {
    expect(mayTalkRaft('old', laggingVoter, known(true, true))).toBe(false)
    expect(mayTalkRaft('old', lagging, known(true, true))).toBe(false)
  })

  it('should always accept the members of the configuration, connected or not', () => {
    for (const peer of ['a', 'b']) expect(mayTalkRaft(peer, laggingVoter, known(false, false))).toBe(true)
    expect(mayTalkRaft('learner', lagging, known(false, false))).toBe(true)
  })

  // The transport asks for every open inbound stream at each role or configuration change: at 50 members,
  // listing the connected peers each time was 5 % of a forming fleet's leader's CPU.
  it('should not ask whether a configuration member is connected or removed', () => {
    const asked: string[] = []
    const counting: MayTalkOptions = { connected: () => { asked.push('connected'); return false }, removed: () => { asked.push('removed'); return true } }
    expect(mayTalkRaft('a', laggingVoter, counting)).toBe(true)
    expect(mayTalkRaft('learner', lagging, counting)).toBe(true)
    expect(asked).toEqual([])
    expect(mayTalkRaft('stranger', lagging, counting)).toBe(false)
    expect(asked).toEqual(['connected'])
  })

  it('should count every part of a joint configuration as known', () => {
    const joint = conf(['a', 'b'], ['l'], { votersOutgoing: ['a', 'old'], learnersNext: ['demoted'] })
    for (const peer of ['a', 'b', 'l', 'old', 'demoted']) {
      expect(mayTalkRaft(peer, joint, known(false, false))).toBe(true)
    }
  })

  it('should let a node not admitted yet (no voters known) accept the connected leader that admits it', () => {
    expect(mayTalkRaft('leader', conf([]), known(true, false))).toBe(true)
    expect(mayTalkRaft('leader', conf([]), known(false, false))).toBe(false)
  })
})
