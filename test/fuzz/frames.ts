/**
 * @module test/fuzz/frames
 * Inputs that carry several items (frames for one Raft node, heartbeats for one table, proposals for
 * one shape): `u16 length ‖ bytes`, repeated. A byte mutation of the whole input still yields items, so
 * byte-level fuzzing reaches the decoder behind the framing.
 */

export function joinFrames (frames: readonly Uint8Array[], head: Uint8Array = new Uint8Array(0)): Uint8Array {
  const total = head.length + frames.reduce((sum, f) => sum + 2 + Math.min(f.length, 0xffff), 0)
  const out = new Uint8Array(total)
  out.set(head)
  let offset = head.length
  for (const frame of frames) {
    const length = Math.min(frame.length, 0xffff)
    out[offset] = length >>> 8
    out[offset + 1] = length & 0xff
    out.set(frame.subarray(0, length), offset + 2)
    offset += 2 + length
  }
  return out
}

/** The frames after `skip` header bytes; a short last frame is taken as it is. At most `max` frames. */
export function splitFrames (input: Uint8Array, skip: number, max: number): Uint8Array[] {
  const frames: Uint8Array[] = []
  let offset = skip
  while (offset + 2 <= input.length && frames.length < max) {
    const length = ((input[offset] as number) << 8) | (input[offset + 1] as number)
    frames.push(input.subarray(offset + 2, Math.min(input.length, offset + 2 + length)))
    offset += 2 + length
  }
  return frames
}
