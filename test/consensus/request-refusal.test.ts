/**
 * The leader's answer to a refused forwarded request (consensus/request-refusal.ts): bounded to the read
 * context limit (a long reason is cut), strict on the way in (exact keys, typed, bounded), never a throw.
 */
import { describe, expect, it } from 'vitest'
import { decodeRefusal, encodeRefusal, REFUSAL_REASON_CHARS_MAX } from '../../src/consensus/request-refusal.js'
import { MAX_READ_CONTEXT_BYTES } from '../../src/consensus/core/constants.js'
import { encodeCanonical } from '../../src/codec/index.js'
import { ForwardedProposals } from '../../src/consensus/forwarded-proposals.js'
import { EntryType, MessageType, ProposalSessions } from '../../src/consensus/core/index.js'
import type { Message, ProposalId } from '../../src/consensus/core/index.js'
import { encodeEntryPayload } from '../../src/consensus/entry-payload.js'
import { PendingTable } from '../../src/consensus/pending.js'
import { PerPeerLogLimiter } from '../../src/consensus/log-limiter.js'
import { decodeFrame, encodeFrame } from '../../src/consensus/transport/wire.js'
import { ForwardedRequestInvalidError } from '../../src/consensus/shape/core/index.js'

/** A leader's forwarded-proposal handling over a stub core; every request is refused for good, and answered. */
function refusingLeader (): { forward: (id: ProposalId) => void, sent: Message[] } {
  const sent: Message[] = []
  const raw = {
    status: () => ({ confState: { voters: ['a', 'b'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } }),
    term: () => 1, lastIndex: () => 0, leader: () => 'a', matchOf: () => undefined, proposeMany: () => {}
  }
  const counts = { refusedForwarded: 0, refusedRequests: 0, refusalsAnswered: 0, requestsRefusedByLeader: 0, retriesSkipped: 0 }
  const forwarded = new ForwardedProposals<unknown>({
    id: 'a', log: { info: () => {}, warn: () => {}, debug: () => {} }, badInputLog: new PerPeerLogLimiter(() => 0), counts,
    rules: { isRequest: () => true, identify: () => null, confChangeFor: () => null } as never, nowMs: () => 0,
    proposals: new PendingTable(16, 'proposal') as never, outbox: { send: (m) => { sent.push(m) }, holdsNotices: false, noteForwarded: () => {} },
    raw: () => raw as never, takeRequest: () => new ForwardedRequestInvalidError('forwarded request from b: its id is not the entry\'s'),
    answerRefusals: () => true, sessions: () => new ProposalSessions() as never, applied: () => 0, proposeAtLeader: () => {}
  })
  const forward = (id: ProposalId): void => forwarded.stampForwarded({
    type: MessageType.Prop, from: 'b', to: 'a', term: 0, index: 0, logTerm: 0, commit: 0, reject: false, rejectHint: 0,
    entries: [{ index: 0, term: 0, type: EntryType.Normal, data: encodeEntryPayload({ command: Uint8Array.of(1), timeMs: 0 }), proposalId: id }]
  })
  return { forward, sent }
}

describe('request refusal', () => {
  it('should round-trip, cutting a long reason so the bytes fit the context bound', () => {
    const id = { clientId: `${'n'.repeat(100)}/0123456789abcdef.r`, seq: Number.MAX_SAFE_INTEGER }
    const bytes = encodeRefusal({ id, reason: 'x'.repeat(10_000) }) ?? new Uint8Array(0)
    expect(bytes.length).toBeLessThanOrEqual(MAX_READ_CONTEXT_BYTES)
    const back = decodeRefusal(bytes)
    expect(back?.id).toEqual(id)
    expect(back!.reason.length).toBeLessThanOrEqual(REFUSAL_REASON_CHARS_MAX)
    expect(decodeRefusal(encodeRefusal({ id: { clientId: 'a/b.r', seq: 3 }, reason: 'too many commands' }) ?? undefined)).toEqual({ id: { clientId: 'a/b.r', seq: 3 }, reason: 'too many commands' })
  })

  it('should refuse anything that is not exactly a refusal', () => {
    const ok = { id: { clientId: 'a/b.r', seq: 3 }, reason: 'r' }
    for (const value of [
      null, 'x', [], { ...ok, extra: 1 }, { id: ok.id }, { ...ok, reason: 3 }, { ...ok, reason: 'x'.repeat(REFUSAL_REASON_CHARS_MAX + 1) },
      { ...ok, id: { clientId: '', seq: 1 } }, { ...ok, id: { clientId: 'x'.repeat(129), seq: 1 } }, { ...ok, id: { clientId: 'a', seq: -1 } },
      { ...ok, id: { clientId: 'a', seq: 1.5 } }, { ...ok, id: { clientId: 'a', seq: 1, x: 1 } }
    ]) {
      expect(decodeRefusal(encodeCanonical(value))).toBeNull()
    }
    expect(decodeRefusal(undefined)).toBeNull()
    expect(decodeRefusal(Uint8Array.from([0xff, 0x00]))).toBeNull()
    expect(decodeRefusal(new Uint8Array(MAX_READ_CONTEXT_BYTES + 1))).toBeNull()
  })

  it('should never encode a refusal above the context bound, a 256-character client id included', () => {
    for (const clientId of [`b/${'s'.repeat(254)}`, `b/${'€'.repeat(126)}`, 'b/' + 'x'.repeat(126)]) {
      const bytes = encodeRefusal({ id: { clientId, seq: Number.MAX_SAFE_INTEGER }, reason: 'r'.repeat(200) })
      if (bytes !== null) {
        expect(bytes.length).toBeLessThanOrEqual(MAX_READ_CONTEXT_BYTES)
        expect(decodeRefusal(bytes)?.id.clientId).toBe(clientId)
      }
    }
    // An id a follower's request can carry (its node id and a session, at most 128 characters) is always answered.
    expect(encodeRefusal({ id: { clientId: 'b/' + 'x'.repeat(126), seq: Number.MAX_SAFE_INTEGER }, reason: 'r' })).not.toBeNull()
  })

  it('should answer a refused request only with a frame the follower decodes, not for a 256-character entry id', () => {
    const { forward, sent } = refusingLeader()
    forward({ clientId: `b/${'s'.repeat(254)}`, seq: 1 })
    forward({ clientId: 'b/s.r', seq: 2 })
    // Every frame sent decodes: one above the context bound closed the follower's stream, and every refusal
    // and Raft message queued behind it on that stream was lost.
    for (const m of sent) expect(() => decodeFrame(encodeFrame(m))).not.toThrow()
    expect(sent.map((m) => decodeRefusal(m.context)?.id)).toEqual([{ clientId: 'b/s.r', seq: 2 }])
  })
})
