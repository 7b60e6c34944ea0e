/**
 * Entry payloads (issue 16): a payload this process encoded decodes to the very command byte array it was
 * built from, so a leader applying the entries it stamped does not decode (and hash) each signed command a
 * second time (the decode cache is keyed by byte array); bytes from elsewhere decode as before.
 */
import { describe, expect, it } from 'vitest'
import { decodeContext, decodeEntryPayload, encodeEntryPayload, encodeEntryPayloadContext } from '../../src/consensus/entry-payload.js'
import { encodeCanonical } from '../../src/codec/index.js'

describe('entry payloads', () => {
  it('should give back the same command bytes for a payload encoded here, and equal ones for a copy', () => {
    const command = Uint8Array.of(1, 2, 3, 4)
    const bytes = encodeEntryPayload({ command, timeMs: 1_700_000_000_000 })
    const here = decodeEntryPayload(bytes)
    expect(here?.command).toBe(command)
    expect(here?.timeMs).toBe(1_700_000_000_000)
    const copy = decodeEntryPayload(Uint8Array.from(bytes))
    expect(copy?.command).not.toBe(command)
    expect(copy).toEqual({ command, timeMs: 1_700_000_000_000 })
    expect(decodeEntryPayload(Uint8Array.of(0xff))).toBeNull()
  })

  it('should refuse a conf-change context whose proposal id breaks the wire rules for an entry\'s', () => {
    const payload = encodeEntryPayload({ command: Uint8Array.of(9), timeMs: 5 })
    expect(decodeContext(encodeEntryPayloadContext({ payload, id: { clientId: 'n1/a', seq: 7 } }))?.id).toEqual({ clientId: 'n1/a', seq: 7 })
    // A seq that is no natural number, or a client id longer than the wire allows, would key the proposer's session.
    for (const [i, s] of [['n1/a', 1.5], ['n1/a', -1], ['n1/a', 1e300], ['x'.repeat(257), 1]] as const) {
      expect(decodeContext(encodeCanonical({ p: payload, i, s }))).toBeNull()
    }
  })
})
