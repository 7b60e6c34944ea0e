/**
 * A snapshot taken again at the index of the last one, after a new term began with nothing applied since (a
 * quorum recovery's end that found nothing to change, elected at a higher term): its term is the entry's, read
 * from the compaction point. It was the current term, and the core's compact refused it ('snapshot term does not
 * match the log'), failing the recovery run (CI, 2026-12-08).
 */
import { describe, expect, it } from 'vitest'
import { RawNode, createPrng } from '../../src/consensus/core/index.js'
import { ProposalSessions } from '../../src/consensus/core/sessions.js'
import { SnapshotKeeper } from '../../src/consensus/snapshot-keeper.js'
import { PerPeerLogLimiter } from '../../src/consensus/log-limiter.js'
import { silentLogger } from '../../src/log/index.js'

describe('a snapshot at the last snapshot\'s index after a new term', () => {
  it('should carry the term of the entry at that index, not the current term', () => {
    const confState = { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
    const last = { meta: { index: 10, term: 1, confState }, data: new Uint8Array() }
    // Restarted at term 3 from a snapshot at index 10 of term 1, nothing in the log after it.
    const raw = new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: createPrng(1) },
      { hardState: { term: 3, vote: 'a', commit: 10 }, snapshot: last, entries: [] })
    expect(raw.status().term).toBe(3)
    const saved: number[] = []
    const keeper = new SnapshotKeeper<Uint8Array>({
      storage: { saveSnapshot: (s: { meta: { term: number } }) => { saved.push(s.meta.term) }, compact: () => {} } as never,
      machine: { snapshot: () => new Uint8Array([1]) } as never,
      log: silentLogger(),
      badInputLog: new PerPeerLogLimiter(() => 0),
      persistence: { unflushedCount: () => 0, syncUnflushed: () => {}, stall: () => {} } as never,
      snapshotEveryEntries: 1000,
      retainEntries: 0,
      raw: () => raw,
      applied: () => 10,
      sessions: () => new ProposalSessions()
    })
    const snapshot = keeper.takeSnapshot(0)
    expect(snapshot.meta).toMatchObject({ index: 10, term: 1 })
    expect(saved).toEqual([1])
  })
})
