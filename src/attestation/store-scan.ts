/**
 * @module attestation/store-scan
 * Reading the chain file at the start a window at a time (store.ts): it may be larger than one read holds
 * (2 GiB), and the start should not hold it all in memory. What follows a bad record decides whether it is a
 * torn tail (cut off) or damage (the start refuses).
 */
import { readSync } from 'node:fs'
import { crc32 } from 'node:zlib'
import { zerosFrom } from '../consensus/storage/record.js'
import { decodeBlock, MAX_BLOCK_BYTES } from './core/index.js'
import { RECORD_HEADER_BYTES } from './constants.js'

/** Bytes the start reads of the chain file at a time: the file may be larger than one read holds (2 GiB). */
export const LOAD_WINDOW_BYTES = 8 * 1024 * 1024

/** `length` bytes of the file `fd` from `position` (fewer at its end), in a new buffer. */
export function readAt (fd: number, position: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let read = 0
  while (read < length) {
    const n = readSync(fd, out, read, length - read, position + read)
    if (n === 0) break
    read += n
  }
  return out.subarray(0, read)
}

/**
 * True when a whole record (a plausible length, its checksum, a block) starts in `data` at an offset in
 * [from, to). Each byte offset is tried, since a bad record's own length field may be what is damaged; none
 * after the last non-zero byte (a record's length is never zero).
 */
function recordStartsIn (data: Buffer, from: number, to: number): boolean {
  let lastNonZero = data.length - 1
  while (lastNonZero >= from && data[lastNonZero] === 0) lastNonZero--
  const limit = Math.min(to, data.length - RECORD_HEADER_BYTES + 1, lastNonZero + 1)
  for (let at = from; at < limit; at++) {
    const length = data.readUInt32BE(at)
    const end = at + RECORD_HEADER_BYTES + length
    if (length === 0 || length > MAX_BLOCK_BYTES || end > data.length) continue
    const bytes = data.subarray(at + RECORD_HEADER_BYTES, end)
    if (crc32(bytes) === data.readUInt32BE(at + 4) && decodeBlock(bytes) !== null) return true
  }
  return false
}

/**
 * True when a whole record starts anywhere in the file after the bad one at `offset`: then the bad one is
 * damage, not a torn tail. NB: not only one largest record further: a power cut can zero more than one record
 * (the file was extended past them), and whole records beyond those still witness damage. Read a window at a
 * time, each window running one largest record past the offsets it tries.
 */
export function recordFollows (fd: number, offset: number, size: number): boolean {
  for (let from = offset + 1; from + RECORD_HEADER_BYTES <= size; from += LOAD_WINDOW_BYTES) {
    const data = readAt(fd, from, Math.min(size - from, LOAD_WINDOW_BYTES + RECORD_HEADER_BYTES + MAX_BLOCK_BYTES))
    if (recordStartsIn(data, 0, LOAD_WINDOW_BYTES)) return true
  }
  return false
}

/** True when every byte of the file from `offset` to `size` is zero. */
export function zerosAfter (fd: number, offset: number, size: number): boolean {
  for (let from = offset; from < size; from += LOAD_WINDOW_BYTES) {
    if (!zerosFrom(readAt(fd, from, Math.min(size - from, LOAD_WINDOW_BYTES)), 0)) return false
  }
  return true
}
