/**
 * Goal: message size limits count everything an entry carries on the wire, including its proposal's
 * client id (issue 9 item 6), so an App within maxSizePerMsgBytes fits its frame.
 */
import { describe, expect, it } from 'vitest'
import { EntryType } from '../../../src/consensus/core/index.js'
import { RaftLog, entryBytes } from '../../../src/consensus/core/log.js'
import { ENTRY_OVERHEAD_BYTES } from '../../../src/consensus/core/constants.js'

describe('entry size', () => {
  it('should count the client id toward the bytes of an App when the log is sliced for sending', () => {
    const clientId = `a/${'x'.repeat(200)}`
    const log = new RaftLog()
    log.append([1, 2, 3].map((index) => ({ index, term: 1, type: EntryType.Normal, data: new Uint8Array(10), proposalId: { clientId, seq: index } })))
    expect(entryBytes(log.entries[0]!)).toBe(10 + ENTRY_OVERHEAD_BYTES + clientId.length)
    // Two such entries are 468 bytes: a 300-byte message carries one.
    expect(log.slice(1, 4, 300).map((e) => e.index)).toEqual([1])
    expect(log.slice(1, 4, 500).map((e) => e.index)).toEqual([1, 2])
  })
})
