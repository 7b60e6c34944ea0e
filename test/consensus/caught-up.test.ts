/**
 * Which members a leader counts as caught up with its log (`caughtUpMembers`, issue 16): only they are
 * given roles by the policy engine, so a learner that has applied nothing never becomes a voter. And which
 * peers a new leader has not heard from yet (`unheardPeers`): its policy engine waits for their first answers.
 */
import { describe, expect, it } from 'vitest'
import { caughtUpMembers, unheardPeers, CAUGHT_UP_MATCH_RATIO } from '../../src/consensus/admission.js'
import type { ProgressStatus } from '../../src/consensus/core/types.js'

const progress = (match: number, state: ProgressStatus['state'] = 'replicate'): ProgressStatus =>
  ({ match, next: match + 1, state, recentActive: true, isLearner: true })

describe('caughtUpMembers', () => {
  it('should count the leader and the peers it replicates to that hold most of the committed log', () => {
    const members = caughtUpMembers({
      id: 'leader',
      commit: 40,
      progress: {
        leader: progress(40),
        current: progress(40),
        // 36 of 40 is the 90 % etcd asks of a learner before promoting it.
        nearly: progress(36),
        behind: progress(35),
        empty: progress(0),
        // Probing with the whole log acknowledged: a learner left in probe by one failed send stays there
        // until a new entry is appended, so it must still count (else a replacement waits forever).
        probing: progress(40, 'probe'),
        probingBehind: progress(10, 'probe'),
        // Installing a snapshot: its match is not its log yet.
        snapshot: progress(40, 'snapshot')
      }
    })
    expect(CAUGHT_UP_MATCH_RATIO).toBe(0.9)
    expect([...(members ?? [])].sort()).toEqual(['current', 'leader', 'nearly', 'probing'])
  })

  it('should know nothing on a node that is not the leader', () => {
    expect(caughtUpMembers({ id: 'follower', commit: 40 })).toBeUndefined()
  })
})

describe('unheardPeers', () => {
  it('should name the peers that neither answered nor acknowledged an entry, never the leader itself', () => {
    const peer = (match: number, recentActive: boolean): ProgressStatus => ({ match, next: match + 1, state: 'probe', recentActive, isLearner: true })
    const unheard = unheardPeers({
      id: 'leader',
      progress: {
        leader: peer(0, false),
        silent: peer(0, false),
        // Answered a heartbeat or a rejected append: its log is being probed, so it is known to be there.
        answered: peer(0, true),
        // Acknowledged entries before the check-quorum window cleared its activity mark.
        acknowledged: peer(12, false)
      }
    })
    expect([...(unheard ?? [])]).toEqual(['silent'])
    expect(unheardPeers({ id: 'follower' })).toBeUndefined()
  })
})
