/**
 * Entry payloads (issue 16): a payload this process encoded decodes to the very command byte array it was
 * built from, so a leader applying the entries it stamped does not decode (and hash) each signed command a
 * second time (the decode cache is keyed by byte array); bytes from elsewhere decode as before.
 */
import { describe, expect, it } from 'vitest'
import { decodeEntryPayload, encodeEntryPayload } from '../../src/consensus/entry-payload.js'

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
})
