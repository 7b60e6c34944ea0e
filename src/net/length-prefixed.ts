/**
 * @module net/length-prefixed
 * Splits a byte stream into length-prefixed frames as the bytes arrive, without exceptions, promises or
 * byte-by-byte list reads on the way (issue 16: every Raft message crossed two length-prefixed layers).
 *
 * Why not the libraries' decoders: `lpStream().read()` (`@libp2p/utils` 7.4) awaits one byte at a time
 * until a varint decodes, decoding the growing prefix through `Uint8ArrayList.get()` and throwing a
 * RangeError (with its stack trace) for each byte that is not the last; then it awaits the body. noise's
 * `LengthPrefixedDecoder` throws and catches a RangeError at the end of every chunk it receives. Both were
 * among the largest items of the transport in the profiles (docs/bench/consensus.md, issue 16).
 *
 * Here a frame that lies whole inside one received buffer is handed on as a view of it (no copy); one that
 * spans buffers is kept as views of the pieces received and copied once, when its last byte arrives, into a
 * buffer of its size. Nothing a peer sends is trusted: a prefix longer than the largest allowed length
 * needs, or a length above the maximum, is a typed error before anything is allocated for it, and a frame
 * in progress holds only the bytes received of it, never its announced length (a peer announcing 3 MiB and
 * stalling after one byte held 3 MiB per stream: test/net/length-prefixed.test.ts), and at most PIECES_MAX
 * views: a frame sent a byte per chunk is copied into a body that grows by doubling.
 */
import type { Uint8ArrayList } from 'uint8arraylist'

/** A peer announced a frame above the limit, or a length prefix that cannot be one. */
export class FrameLengthError extends Error {
  static override readonly name = 'FrameLengthError'
  constructor (message: string) {
    super(message)
    this.name = 'FrameLengthError'
  }
}

/** How the length in front of each frame is written: an unsigned LEB128 varint, or two bytes big-endian. */
export type LengthPrefix = 'varint' | 'uint16be'

/** Bytes of the unsigned varint of `value`. */
export function varintBytes (value: number): number {
  let bytes = 1
  while (value >= 0x80) { value = Math.floor(value / 0x80); bytes++ }
  return bytes
}

/** Writes the unsigned varint of `value` (a safe non-negative integer) at `offset`; returns the next offset. */
export function writeVarint (value: number, target: Uint8Array, offset: number): number {
  while (value >= 0x80) {
    target[offset++] = (value % 0x80) | 0x80
    value = Math.floor(value / 0x80)
  }
  target[offset++] = value
  return offset
}

/**
 * Receives a stream's bytes in any chunking and calls `onFrame` with each complete frame, in order.
 * `onFrame` returns false to stop (the stream is being closed): the rest of that chunk is dropped and so is
 * everything pushed later.
 */
export class LengthPrefixedSplitter {
  private readonly maxPrefixBytes: number
  /** The length being read: its value so far and the prefix bytes read. */
  private lengthValue = 0
  private lengthBytes = 0
  /**
   * The frame being received when it spans buffers: its announced length, the pieces received so far
   * (views, copied together once it is complete) and their bytes. Invariant: filled < bodyLength.
   * Past PIECES_MAX pieces they are copied into `body`, which grows by doubling: a frame sent a byte per
   * chunk held a view object (~100 bytes) per byte received, 300 MB for a 3 MiB frame.
   */
  private bodyLength = 0
  private parts: Uint8Array[] | undefined
  private body: Uint8Array | undefined
  private filled = 0
  private stopped = false

  constructor (
    private readonly prefix: LengthPrefix,
    private readonly maxFrameBytes: number,
    private readonly onFrame: (frame: Uint8Array) => boolean
  ) {
    this.maxPrefixBytes = prefix === 'uint16be' ? 2 : varintBytes(maxFrameBytes)
  }

  /** Bytes received and not yet handed on (part of a prefix or of a frame). */
  get bufferedBytes (): number {
    return this.lengthBytes + this.filled
  }

  /**
   * What the frame in progress holds: views kept of the pieces received, and bytes allocated for it (the
   * growing body's capacity). Bounded by PIECES_MAX views and about twice the bytes received.
   */
  get held (): { pieces: number, bodyBytes: number } {
    return { pieces: this.parts?.length ?? 0, bodyBytes: this.body?.length ?? 0 }
  }

  /** @throws FrameLengthError for a length above the maximum or a malformed prefix */
  push (data: Uint8Array | Uint8ArrayList): void {
    if (data instanceof Uint8Array) { this.pushBuffer(data); return }
    for (const buf of data) {
      if (this.stopped) return
      this.pushBuffer(buf)
    }
  }

  private pushBuffer (buf: Uint8Array): void {
    let i = 0
    while (i < buf.length && !this.stopped) {
      const parts = this.parts
      if (parts !== undefined) {
        const take = Math.min(this.bodyLength - this.filled, buf.length - i)
        this.keep(parts, buf.subarray(i, i + take))
        this.filled += take
        i += take
        if (this.filled === this.bodyLength) {
          const body = this.body
          this.parts = undefined
          this.body = undefined
          this.filled = 0
          // A body grown to the frame's length is exactly the frame (its capacity never passes bodyLength).
          this.deliver(body ?? joined(parts, this.bodyLength))
        }
        continue
      }
      const length = this.readLengthByte(buf[i++] as number)
      if (length < 0) continue
      if (buf.length - i >= length) {
        this.deliver(buf.subarray(i, i + length))
        i += length
      } else {
        this.bodyLength = length
        this.parts = [buf.subarray(i)]
        this.filled = buf.length - i
        i = buf.length
      }
    }
  }

  /** Keeps a piece of the frame in progress: as a view while they are few, else copied into the growing body. */
  private keep (parts: Uint8Array[], piece: Uint8Array): void {
    let body = this.body
    if (body === undefined && parts.length < PIECES_MAX) { parts.push(piece); return }
    const needed = this.filled + piece.length
    if (body === undefined || needed > body.length) {
      const grown = new Uint8Array(Math.min(this.bodyLength, Math.max(needed, 2 * this.filled, BODY_BYTES_MIN)))
      if (body === undefined) {
        let at = 0
        for (const part of parts) { grown.set(part, at); at += part.length }
        parts.length = 0
      } else {
        grown.set(body.subarray(0, this.filled))
      }
      body = this.body = grown
    }
    body.set(piece, this.filled)
  }

  /** Reads one prefix byte: the frame's length once the prefix is complete, else -1. */
  private readLengthByte (byte: number): number {
    this.lengthBytes++
    let complete: boolean
    if (this.prefix === 'uint16be') {
      this.lengthValue = this.lengthValue * 0x100 + byte
      complete = this.lengthBytes === 2
    } else {
      this.lengthValue += (byte & 0x7f) * 2 ** (7 * (this.lengthBytes - 1))
      complete = (byte & 0x80) === 0
      if (!complete && this.lengthBytes >= this.maxPrefixBytes) {
        this.stopped = true
        throw new FrameLengthError(`length prefix longer than ${this.maxPrefixBytes} bytes`)
      }
    }
    if (!complete) return -1
    const length = this.lengthValue
    this.lengthValue = 0
    this.lengthBytes = 0
    if (length > this.maxFrameBytes) {
      this.stopped = true
      throw new FrameLengthError(`frame of ${length} bytes announced, above ${this.maxFrameBytes}`)
    }
    return length
  }

  private deliver (frame: Uint8Array): void {
    if (!this.onFrame(frame)) this.stopped = true
  }
}

/** Pieces of a frame kept as views before they are copied together (a 3 MiB frame in 64 KiB chunks is 48). */
const PIECES_MAX = 64
/** The smallest growing body: fewer reallocations for a frame sent in many small pieces. */
const BODY_BYTES_MIN = 64 * 1024

/** The pieces of one frame copied into one buffer of its `length` bytes. */
function joined (parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) { out.set(part, at); at += part.length }
  return out
}
