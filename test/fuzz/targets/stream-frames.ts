/**
 * @module test/fuzz/targets/stream-frames
 * The bytes of a Raft stream as a peer sends them, all the way to messages: LengthPrefixedSplitter (varint
 * lengths, MAX_FRAME_BYTES) → decodeFrame. Input: byte 0 picks how the bytes arrive (whole, or in chunks of
 * sizes taken from the input); the rest is the stream. A FrameLengthError (a length above the limit or a
 * prefix that cannot be one) or a MalformedFrameError closes the stream: both typed.
 *
 * Checked: the frames found do not depend on how the bytes were chunked (whole vs chunked, up to the first
 * error), each is at most MAX_FRAME_BYTES, and the splitter never holds more than one frame and its prefix.
 */
import { encodeFrame, decodeFrame, MAX_FRAME_BYTES } from '../../../src/consensus/transport/wire.js'
import { EntryType, MessageType } from '../../../src/consensus/core/index.js'
import { LengthPrefixedSplitter } from '../../../src/net/length-prefixed.js'
import { encodeVarintFrames } from '../../net/varint-frames.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'

/** The frames of `stream` fed in chunks of the given sizes (cycled); the error that stopped it, if any. */
function split (stream: Uint8Array, sizes: readonly number[]): { frames: string[], error?: string } {
  const frames: string[] = []
  const splitter = new LengthPrefixedSplitter('varint', MAX_FRAME_BYTES, (frame) => {
    invariant(frame.byteLength <= MAX_FRAME_BYTES, () => `a frame of ${frame.byteLength} bytes passed the limit`)
    frames.push(Buffer.from(frame).toString('hex'))
    return true
  })
  let offset = 0
  let k = 0
  try {
    while (offset < stream.length) {
      const size = Math.max(1, sizes[k++ % sizes.length] ?? stream.length)
      splitter.push(stream.subarray(offset, offset + size))
      offset += size
      invariant(splitter.bufferedBytes <= MAX_FRAME_BYTES + 4, () => `the splitter holds ${splitter.bufferedBytes} bytes`)
    }
  } catch (err) {
    return { frames, error: (err as Error).name }
  }
  return { frames }
}

function message (n: number): Uint8Array {
  return encodeFrame({
    type: n % 2 === 0 ? MessageType.App : MessageType.AppResp, from: 'a', to: 'b', term: 3, index: n, logTerm: 2, commit: n, reject: false, rejectHint: 0,
    entries: n % 2 === 0 ? [{ index: n + 1, term: 3, type: EntryType.Normal, data: new Uint8Array(100 + 60 * n).fill(n) }] : []
  })
}

export const streamFramesTarget: FuzzTarget = {
  name: 'stream-frames',
  description: 'Raft stream bytes in any chunking → LengthPrefixedSplitter → decodeFrame (typed FrameLengthError / MalformedFrameError)',
  typedErrors: ['FrameLengthError', 'MalformedFrameError'],
  corpus: () => [
    Uint8Array.of(0, ...encodeVarintFrames([message(0), message(1), message(2)])),
    Uint8Array.of(3, ...encodeVarintFrames([message(4), message(3)]))
  ],
  generate (rng) {
    const frames = Array.from({ length: 1 + rng.int(4) }, (_, i) => message(rng.int(8) + i))
    const stream = encodeVarintFrames(frames)
    // A forged length here and there: above the limit, too many continuation bytes, or zero.
    const forged = [[0x80, 0x80, 0x80, 0x08], [0xff, 0xff, 0xff, 0xff, 0x0f], [0x00]][rng.int(3)]!
    if (rng.int(3) === 0) stream.set(forged, rng.int(stream.length - forged.length))
    return Uint8Array.of(rng.int(256), ...stream)
  },
  run (input) {
    const mode = input[0] ?? 0
    const stream = input.subarray(1)
    const whole = split(stream, [stream.length])
    const sizes = mode % 4 === 0 ? [1] : Array.from(stream.subarray(0, 1 + (mode % 7)), (b) => 1 + b)
    const chunked = split(stream, sizes)
    invariant(whole.error === chunked.error, () => `whole: ${whole.error ?? 'no error'}, chunked: ${chunked.error ?? 'no error'}`)
    invariant(whole.frames.join() === chunked.frames.join(), 'the frames depend on how the bytes were chunked')
    for (const hex of whole.frames) decodeFrame(Buffer.from(hex, 'hex'))
    if (whole.error !== undefined) throw Object.assign(new Error('stream closed'), { name: whole.error })
  }
}
