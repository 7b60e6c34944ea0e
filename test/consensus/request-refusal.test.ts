/**
 * The leader's answer to a refused forwarded request (consensus/request-refusal.ts): bounded to the read
 * context limit (a long reason is cut), strict on the way in (exact keys, typed, bounded), never a throw.
 */
import { describe, expect, it } from 'vitest'
import { decodeRefusal, encodeRefusal, REFUSAL_REASON_CHARS_MAX } from '../../src/consensus/request-refusal.js'
import { MAX_READ_CONTEXT_BYTES } from '../../src/consensus/core/constants.js'
import { encodeCanonical } from '../../src/codec/index.js'

describe('request refusal', () => {
  it('should round-trip, cutting a long reason so the bytes fit the context bound', () => {
    const id = { clientId: `${'n'.repeat(100)}/0123456789abcdef.r`, seq: Number.MAX_SAFE_INTEGER }
    const bytes = encodeRefusal({ id, reason: 'x'.repeat(10_000) })
    expect(bytes.length).toBeLessThanOrEqual(MAX_READ_CONTEXT_BYTES)
    const back = decodeRefusal(bytes)
    expect(back?.id).toEqual(id)
    expect(back!.reason.length).toBeLessThanOrEqual(REFUSAL_REASON_CHARS_MAX)
    expect(decodeRefusal(encodeRefusal({ id: { clientId: 'a/b.r', seq: 3 }, reason: 'too many commands' }))).toEqual({ id: { clientId: 'a/b.r', seq: 3 }, reason: 'too many commands' })
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
})
