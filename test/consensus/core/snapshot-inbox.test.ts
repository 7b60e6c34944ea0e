/**
 * A follower reassembles an InstallSnapshot from the leader's Snap chunks. Goal: the inbox is bounded
 * (MAX_SNAPSHOT_BYTES) even against the leader of a term that sends contiguous chunks forever, holds
 * chunks of one leader in one term only, and an honest multi-chunk snapshot still installs. Method: one
 * RawNode follower stepped by hand; the reassembled size is read from status().snapshotInboxBytes. The
 * oversize case reuses one 1 MiB buffer for every chunk, so the test itself holds 1 MiB, not 1 GiB.
 */
import { describe, expect, it } from 'vitest'
import { MessageType, RawNode } from '../../../src/consensus/core/index.js'
import type { Message } from '../../../src/consensus/core/index.js'
import { MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_CHUNK_BYTES } from '../../../src/consensus/core/constants.js'
import { conf, followerAtTerm3 } from './harness.js'

const CONF = conf(['a', 'b', 'c'])
const META = { index: 10, term: 3, confState: CONF }




function chunk (offset: number, data: Uint8Array, extra: Partial<Message> = {}): Message {
  return {
    type: MessageType.Snap, from: 'b', to: 'a', term: 3, index: META.index, logTerm: META.term, entries: [],
    commit: 0, reject: false, rejectHint: 0, snapshotMeta: META, snapshotChunk: data, snapshotOffset: offset,
    snapshotDone: false, ...extra
  }
}

/** Steps chunks of `part` from offset 0 until `bytes` are sent; returns the next offset. */
function sendChunks (node: RawNode, part: Uint8Array, bytes: number): number {
  let offset = 0
  while (offset < bytes) {
    node.step(chunk(offset, part))
    offset += part.length
  }
  return offset
}

describe('snapshot inbox', () => {
  it('should drop the whole inbox and count it when a chunk would take it past MAX_SNAPSHOT_BYTES', () => {
    const node = followerAtTerm3()
    const part = new Uint8Array(MAX_SNAPSHOT_CHUNK_BYTES).fill(7)
    // Exactly at the cap is still an honest snapshot in the making.
    const offset = sendChunks(node, part, MAX_SNAPSHOT_BYTES)
    expect(node.status().snapshotInboxBytes).toBe(MAX_SNAPSHOT_BYTES)
    expect(node.status().oversizeSnapshots).toBe(0)
    node.step(chunk(offset, part))
    expect(node.status().snapshotInboxBytes).toBe(0)
    expect(node.status().oversizeSnapshots).toBe(1)
    // The attacker goes on: the following chunks find no inbox and are dropped, nothing grows.
    const dropped = node.status().droppedMessages
    for (let i = 1; i <= 8; i++) node.step(chunk(offset + i * part.length, part))
    node.step(chunk(offset + 9 * part.length, part, { snapshotDone: true }))
    expect(node.status().snapshotInboxBytes).toBe(0)
    expect(node.status().droppedMessages).toBe(dropped + 9)
    expect(node.status().commit).toBe(2)
    expect(node.hasReady() ? node.ready().snapshot : undefined).toBeUndefined()
    node.checkInvariants()
  })

  it('should install an honest snapshot sent in several chunks', () => {
    const node = followerAtTerm3()
    const data = new Uint8Array(1000).map((_, i) => i % 251)
    for (let offset = 0; offset < data.length; offset += 300) {
      const done = offset + 300 >= data.length
      node.step(chunk(offset, data.subarray(offset, offset + 300), { snapshotDone: done }))
      if (!done) expect(node.status().snapshotInboxBytes).toBe(offset + 300)
    }
    expect(node.status().snapshotInboxBytes).toBe(0)
    expect(node.status().oversizeSnapshots).toBe(0)
    const ready = node.ready()
    expect(ready.snapshot?.meta).toEqual(META)
    expect(ready.snapshot?.data).toEqual(data)
    expect(node.status().commit).toBe(META.index)
    node.advance()
    node.checkInvariants()
  })

  it('should clear a partial inbox when the term changes, so a later leader cannot extend it', () => {
    const node = followerAtTerm3()
    const part = new Uint8Array(100).fill(1)
    const offset = sendChunks(node, part, 300)
    expect(node.status().snapshotInboxBytes).toBe(300)
    // c leads term 4 and continues where b stopped, with the same meta: it must start from offset 0.
    node.step({
      type: MessageType.Heartbeat, from: 'c', to: 'a', term: 4, index: 0, logTerm: 0, entries: [], commit: 2,
      reject: false, rejectHint: 0
    })
    expect(node.status().leader).toBe('c')
    expect(node.status().snapshotInboxBytes).toBe(0)
    const dropped = node.status().droppedMessages
    node.step(chunk(offset, part, { from: 'c', term: 4, snapshotDone: true }))
    expect(node.status().droppedMessages).toBe(dropped + 1)
    expect(node.status().commit).toBe(2)
    node.checkInvariants()
  })

  it('should clear a partial inbox when the follower stops following its leader', () => {
    const node = followerAtTerm3()
    sendChunks(node, new Uint8Array(100), 300)
    expect(node.status().snapshotInboxBytes).toBe(300)
    // The leader falls silent: the election timeout makes this node a pre-candidate without a leader.
    for (let i = 0; i < 20 && node.status().role === 'follower'; i++) node.tick()
    expect(node.status().role).toBe('pre-candidate')
    expect(node.status().snapshotInboxBytes).toBe(0)
    node.checkInvariants()
  })
})
