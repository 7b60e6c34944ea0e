/**
 * Test helper: `frames` with a varint length prefix each, in one buffer — the bytes a Raft stream carries
 * (the transport's pump writes the same prefixes without joining the frames into one buffer).
 */
import { varintBytes, writeVarint } from '../../src/net/length-prefixed.js'

export function encodeVarintFrames (frames: readonly Uint8Array[]): Uint8Array {
  let total = 0
  for (const frame of frames) total += varintBytes(frame.byteLength) + frame.byteLength
  const out = new Uint8Array(total)
  let offset = 0
  for (const frame of frames) {
    offset = writeVarint(frame.byteLength, out, offset)
    out.set(frame, offset)
    offset += frame.byteLength
  }
  return out
}
