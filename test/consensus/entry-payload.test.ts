/**
 * Entry payloads (issue 16): a payload this process encoded decodes to the very command byte array it was
 * built from, so a leader applying the entries it stamped does not decode (and hash) each signed command a
 * second time (the decode cache is keyed by byte array); bytes from elsewhere decode as before.
 *
 * The payload decode is lenient on purpose (docs/ENCODING.md, "Entry payloads and conf-change contexts"):
 * the verdicts on bytes no honest leader writes are pinned here, because a build that judged them
 * otherwise would apply a command other replicas reject.
 */
import { describe, expect, it } from 'vitest'
import { decodeContext, decodeEntryPayload, encodeEntryPayload, encodeEntryPayloadContext } from '../../src/consensus/entry-payload.js'
import { encodeCanonical } from '../../src/codec/index.js'

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/ /g, ''), 'hex'))

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

  it('should read another encoding of {c, t} as the same command and time, and keep every verdict on bytes no honest leader writes', () => {
    // Every row is c = h'0102', t = 5 in some form. 'same': the command bytes and time of the canonical form.
    const rows: Array<[string, string, 'same' | 'null']> = [
      ['canonical', 'a2 6163 420102 6174 05', 'same'],
      ['keys unsorted', 'a2 6174 05 6163 420102', 'same'],
      ['one more key', 'a3 6163 420102 6174 05 6178 f6', 'same'],
      ['undefined in one more key', 'a3 6163 420102 6174 05 6178 f7', 'same'],
      ['t a 64-bit float', 'a2 6163 420102 6174 fb4014000000000000', 'same'],
      ['key c after a byte-order mark (the text decoder drops it)', 'a2 64efbbbf63 420102 6174 05', 'same'],
      ['c and t only inside __proto__ (an own key, no prototype)', 'a1 695f5f70726f746f5f5f a2 6163 420102 6174 05', 'null'],
      ['t beyond 2^53 (a BigInt)', 'a2 6163 420102 6174 1b0020000000000000', 'null'],
      ['t one byte wider than needed', 'a2 6163 420102 6174 1805', 'null'],
      ['key c twice', 'a3 6163 420102 6163 420102 6174 05', 'null'],
      ['an indefinite-length map', 'bf 6163 420102 6174 05 ff', 'null'],
      ['c in indefinite-length chunks', 'a2 6163 5f 4101 4102 ff 6174 05', 'null'],
      ['t under a tag other than 42', 'a2 6163 420102 6174 c105', 'null'],
      ['a byte after the map', 'a2 6163 420102 6174 05 00', 'null']
    ]
    for (const [name, bytes, expected] of rows) {
      const payload = decodeEntryPayload(hex(bytes))
      const seen = payload === null ? 'null' : payload.timeMs === 5 && Buffer.from(payload.command).equals(Buffer.of(1, 2)) ? 'same' : 'other'
      expect(`${name}: ${seen}`).toBe(`${name}: ${expected}`)
    }
    // A context's client id after a byte-order mark names the session without it: the same session.
    const context = encodeCanonical({ i: '\ufeffn1/a', p: hex('a2 6163 420102 6174 05'), s: 7 })
    expect(decodeContext(context)?.id).toEqual({ clientId: 'n1/a', seq: 7 })
  })
})
