/**
 * Goal: the leader's record of where it appended followers' forwarded proposals (forwarded-proposals.ts,
 * `forwardedAppended`) holds at most FORWARDED_APPENDED_MAX (4,096) of them and, over it, forgets the
 * oldest first. It rescanned the whole map on every insert once full, and kept every entry when none was
 * applied yet (a flood of one term): unbounded, and quadratic work. Forgetting one costs only a retry
 * appended again (a duplicate the sessions skip at apply). Method: ForwardedProposals over a stub core
 * (term 1, nothing applied), fed Prop messages from member b; a retry that is skipped is counted in
 * `retriesSkipped`, one that is appended again reaches the stub's proposeMany.
 */
import { describe, expect, it } from 'vitest'
import { ForwardedProposals } from '../../src/consensus/forwarded-proposals.js'
import { EntryType, MessageType, ProposalSessions } from '../../src/consensus/core/index.js'
import type { Message, ProposalId } from '../../src/consensus/core/index.js'
import { encodeEntryPayload } from '../../src/consensus/entry-payload.js'
import { PendingTable } from '../../src/consensus/pending.js'
import { PerPeerLogLimiter } from '../../src/consensus/log-limiter.js'

const MAX = 4_096
const silent = { info: () => {}, warn: () => {}, debug: () => {} }

function leader () {
  let lastIndex = 0
  const appended: ProposalId[] = []
  const counts = { refusedForwarded: 0, refusedRequests: 0, refusalsAnswered: 0, requestsRefusedByLeader: 0, retriesSkipped: 0 }
  const raw = {
    status: () => ({ confState: { voters: ['a', 'b'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } }),
    term: () => 1,
    lastIndex: () => lastIndex,
    leader: () => 'a',
    matchOf: () => undefined,
    proposeMany: (entries: Array<{ proposalId: ProposalId }>) => {
      lastIndex += entries.length
      appended.push(...entries.map((e) => e.proposalId))
    }
  }
  const forwarded = new ForwardedProposals<unknown>({
    id: 'a', log: silent, badInputLog: new PerPeerLogLimiter(() => 0), counts, rules: undefined, nowMs: () => 0,
    proposals: new PendingTable(16, 'proposal') as never, outbox: { send: () => {}, holdsNotices: false, noteForwarded: () => {} },
    raw: () => raw as never, takeRequest: undefined, answerRefusals: undefined,
    sessions: () => new ProposalSessions() as never, applied: () => 0, proposeAtLeader: () => {}
  })
  const forward = (seqs: number[]): void => forwarded.stampForwarded({
    type: MessageType.Prop, from: 'b', to: 'a', term: 0, index: 0, logTerm: 0, commit: 0, reject: false, rejectHint: 0,
    entries: seqs.map((seq) => ({ index: 0, term: 0, type: EntryType.Normal, data: encodeEntryPayload({ command: Uint8Array.of(seq & 0xff), timeMs: 0 }), proposalId: { clientId: 'b/s', seq } }))
  } satisfies Message)
  return { forward, appended, counts }
}

describe('forwarded proposals the leader appended', () => {
  it('should hold at most 4096 and forget the oldest first when nothing is applied yet', () => {
    const { forward, appended, counts } = leader()
    const seqs = Array.from({ length: MAX }, (_, k) => k + 1)
    for (const seq of seqs) forward([seq])
    expect(appended).toHaveLength(MAX)
    // Full: a retry of the oldest is still known, and skipped.
    forward([1])
    expect(counts.retriesSkipped).toBe(1)
    // One more: the oldest (seq 1) goes, the second oldest stays.
    forward([MAX + 1])
    forward([2])
    expect(counts.retriesSkipped).toBe(2)
    forward([1])
    expect(counts.retriesSkipped).toBe(2)
    expect(appended.at(-1)).toEqual({ clientId: 'b/s', seq: 1 })
    // Appended again, seq 1 is the newest; seq 2 (now the oldest) went to make room for it.
    forward([2])
    expect(counts.retriesSkipped).toBe(2)
    forward([1, MAX + 1])
    expect(counts.retriesSkipped).toBe(4)
  })
})
