/**
 * Goal: gossipsub's fast message id names a message by its sender and sequence number exactly as the
 * strict-sign message id does, so a duplicate is recognised before its signature is verified again
 * (issue 16: each node receives about D + 1 copies of every heartbeat).
 */
import { describe, expect, it } from 'vitest'
import { senderSeqnoMessageId } from '../../src/net/libp2p.js'

const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs)

describe('fast message id', () => {
  it('should be equal for the same sender and seqno whatever the data, and differ otherwise', () => {
    const from = bytes(0, 36, 8, 1, 18, 32, 7, 7)
    const seqno = bytes(0, 0, 0, 0, 0, 0, 0, 42)
    const id = senderSeqnoMessageId({ from, seqno, data: bytes(1), topic: 't' })
    // A copy in a larger buffer (frames are decoded as subarrays) and with other data is the same message.
    const framed = new Uint8Array(64)
    framed.set(from, 10)
    framed.set(seqno, 30)
    expect(senderSeqnoMessageId({ from: framed.subarray(10, 10 + from.length), seqno: framed.subarray(30, 38), data: bytes(2), topic: 't' })).toBe(id)
    expect(senderSeqnoMessageId({ from, seqno: bytes(0, 0, 0, 0, 0, 0, 0, 43), topic: 't' })).not.toBe(id)
    expect(senderSeqnoMessageId({ from: bytes(0, 36, 8, 1, 18, 32, 7, 8), seqno, topic: 't' })).not.toBe(id)
    // No sender or no seqno: invalid under strict signing, an id no verified message is cached under.
    expect(senderSeqnoMessageId({ seqno, topic: 't' })).toBe('')
    expect(senderSeqnoMessageId({ from, topic: 't' })).toBe('')
  })
})
