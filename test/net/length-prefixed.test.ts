/**
 * The length-prefixed splitter under the Raft stream and noise (src/net/length-prefixed.ts, issue 16): the
 * same frames whatever the chunking, views of the received buffer when a frame lies inside one, and a typed
 * error — before anything is allocated for it — for a length above the limit or a prefix that cannot be one.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameLengthError, LengthPrefixedSplitter, varintBytes, writeVarint } from '../../src/net/length-prefixed.js'
import { encodeVarintFrames } from './varint-frames.js'
import type { LengthPrefix } from '../../src/net/length-prefixed.js'

function collect (prefix: LengthPrefix, max: number): { splitter: LengthPrefixedSplitter, frames: Uint8Array[] } {
  const frames: Uint8Array[] = []
  const splitter = new LengthPrefixedSplitter(prefix, max, (frame) => { frames.push(frame); return true })
  return { splitter, frames }
}

function uint16Frames (frames: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(frames.flatMap((f) => [Buffer.from([f.length >> 8, f.length & 0xff]), f]))
}

const hex = (frames: readonly Uint8Array[]): string[] => frames.map((f) => Buffer.from(f).toString('hex'))

describe('LengthPrefixedSplitter', () => {
  const payloads = [randomBytes(1), randomBytes(127), randomBytes(128), randomBytes(0), randomBytes(300), randomBytes(16_500)]

  it('should find the same frames for every split of the stream into two or into single bytes', () => {
    for (const prefix of ['varint', 'uint16be'] as const) {
      const stream = prefix === 'varint' ? encodeVarintFrames(payloads) : uint16Frames(payloads)
      const expected = hex(payloads)
      for (let cut = 0; cut <= stream.length; cut += cut < 400 ? 1 : 97) {
        const { splitter, frames } = collect(prefix, 65_535)
        splitter.push(stream.subarray(0, cut))
        splitter.push(new Uint8ArrayList(stream.subarray(cut, cut + 3), stream.subarray(cut + 3)))
        expect(hex(frames), `${prefix} cut at ${cut}`).toEqual(expected)
        expect(splitter.bufferedBytes).toBe(0)
      }
      const { splitter, frames } = collect(prefix, 65_535)
      for (let i = 0; i < stream.length; i++) splitter.push(stream.subarray(i, i + 1))
      expect(hex(frames), `${prefix} byte by byte`).toEqual(expected)
    }
  })

  it('should read noise\'s 2-byte lengths as the library decoder does, without copying a frame that lies in one buffer', () => {
    const stream = uint16Frames(payloads)
    const theirs = [...new LengthPrefixedDecoder({ lengthDecoder: (d) => { if (d.byteLength < 2) throw new RangeError('short'); return d instanceof Uint8Array ? (d[0]! << 8) | d[1]! : d.getUint16(0) }, encodingLength: () => 2, maxDataLength: 65_535 }).decode(stream)]
    const { splitter, frames } = collect('uint16be', 65_535)
    splitter.push(stream)
    // The library's decoder skips empty frames; noise's adapter (noise-frames.ts) does the same.
    expect(hex(frames.filter((f) => f.length > 0))).toEqual(hex(theirs.map((f) => f.subarray())))
    for (const frame of frames) expect(frame.buffer).toBe(stream.buffer)
  })

  it('should write the unsigned varints lpStream writes', () => {
    for (const value of [0, 1, 127, 128, 300, 16_383, 16_384, 3 * 1024 * 1024, 2 ** 31 + 5]) {
      const out = new Uint8Array(varintBytes(value))
      expect(writeVarint(value, out, 0)).toBe(out.length)
      let decoded = 0
      out.forEach((b, i) => { decoded += (b & 0x7f) * 2 ** (7 * i) })
      expect(decoded).toBe(value)
      expect(out.slice(0, -1).every((b) => (b & 0x80) !== 0) && ((out[out.length - 1] as number) & 0x80) === 0).toBe(true)
    }
  })

  it('should throw a typed error for a length above the limit before its body arrives, and stop', () => {
    const { splitter, frames } = collect('varint', 1000)
    splitter.push(encodeVarintFrames([randomBytes(1000)]))
    expect(frames).toHaveLength(1)
    const over = new Uint8Array(2)
    writeVarint(1001, over, 0)
    expect(() => { splitter.push(over) }).toThrow(FrameLengthError)
    splitter.push(encodeVarintFrames([randomBytes(5)]))
    expect(frames).toHaveLength(1)
    expect(splitter.bufferedBytes).toBe(0)
  })

  it('should throw a typed error for a varint longer than the limit needs, byte by byte', () => {
    const { splitter } = collect('varint', 3 * 1024 * 1024)
    // 3 MiB needs 4 varint bytes; a fourth byte that continues is not a length.
    for (const b of [0x80, 0x80, 0x80]) splitter.push(Uint8Array.of(b))
    expect(() => { splitter.push(Uint8Array.of(0x80)) }).toThrow(expect.objectContaining({ name: 'FrameLengthError' }))
  })

  it('should hold only the bytes received of a frame that spans buffers, not the length it announces', () => {
    // A peer that announces a 3 MiB frame, sends one byte of it and stalls must cost what it sent: 64 such
    // streams (8 per connection on the Raft protocol) held 192 MiB for 320 bytes when the body was allocated
    // at its announced size.
    const max = 3 * 1024 * 1024
    const before = process.memoryUsage().arrayBuffers
    const held: LengthPrefixedSplitter[] = []
    for (let k = 0; k < 64; k++) {
      const { splitter } = collect('varint', max)
      const prefix = new Uint8Array(varintBytes(max) + 1)
      writeVarint(max, prefix, 0)
      splitter.push(prefix)
      held.push(splitter)
    }
    expect(held.every((s) => s.bufferedBytes === 1)).toBe(true)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024)
    // The frame still arrives whole once the rest comes, in any number of pieces.
    const frames: Uint8Array[] = []
    const splitter = new LengthPrefixedSplitter('varint', max, (frame) => { frames.push(frame); return true })
    const payload = randomBytes(max)
    const stream = encodeVarintFrames([payload])
    for (let at = 0; at < stream.length; at += 65_536) splitter.push(stream.subarray(at, at + 65_536))
    expect(frames).toHaveLength(1)
    expect(Buffer.from(frames[0] as Uint8Array).equals(payload)).toBe(true)
    expect(splitter.bufferedBytes).toBe(0)
  })

  it('should hold a bounded number of views and about twice the bytes received of a frame sent a byte per chunk', () => {
    // Each piece kept as a view cost an object (~100 bytes) per byte received: 300 MB for a 3 MiB frame.
    const length = 256 * 1024
    const frames: Uint8Array[] = []
    const splitter = new LengthPrefixedSplitter('varint', length, (frame) => { frames.push(frame); return true })
    const payload = randomBytes(length)
    const stream = encodeVarintFrames([payload])
    const half = stream.length - length / 2
    // Each growth copies what the body holds: it must double, or a byte per chunk costs quadratic copying.
    let grows = 0
    for (let at = 0; at < half; at++) {
      const before = splitter.held.bodyBytes
      splitter.push(stream.subarray(at, at + 1))
      if (splitter.held.bodyBytes !== before) grows++
    }
    expect(grows).toBeLessThanOrEqual(4)
    expect(splitter.held.pieces).toBeLessThanOrEqual(64)
    expect(splitter.held.bodyBytes).toBeLessThanOrEqual(2 * splitter.bufferedBytes + 64 * 1024)
    for (let at = half; at < stream.length; at++) splitter.push(stream.subarray(at, at + 1))
    expect(frames).toHaveLength(1)
    expect(Buffer.from(frames[0] as Uint8Array).equals(payload)).toBe(true)
    expect(splitter.held).toEqual({ pieces: 0, bodyBytes: 0 })
  })

  it('should stop at a frame whose handler returns false and drop the rest', () => {
    const seen: number[] = []
    const splitter = new LengthPrefixedSplitter('varint', 100, (frame) => { seen.push(frame.length); return frame.length !== 2 })
    splitter.push(encodeVarintFrames([randomBytes(1), randomBytes(2), randomBytes(3)]))
    splitter.push(encodeVarintFrames([randomBytes(4)]))
    expect(seen).toEqual([1, 2])
  })
})
