/**
 * @module consensus/storage/record
 * WAL records: `u32 length ‖ u32 crc32(payload) ‖ payload`, payload deterministic CBOR of one of
 * `{t: 1, e: entry}` (a log entry), `{t: 2, h: hardState}`, `{t: 3, s: index, a: all}` (a snapshot at index
 * was saved: forget every entry up to it, or all of them when the log disagreed with the snapshot). Replay is last-writer-wins by index, so a follower
 * overwriting a conflicting suffix needs no in-place truncation.
 *
 * A segment's file may run on past its last record with zeros (space pre-written so that appending never
 * grows the file, file-storage.ts): a length field of zero with nothing but zeros after it is that space,
 * the end of the records, not a record. A valid record never has length zero.
 */
import { crc32 } from 'node:zlib'
import { decodeBounded, encodeCanonical } from '../../codec/index.js'
import type { Entry, HardState } from '../core/types.js'
import { RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX } from './constants.js'

export type WalRecord =
  | { kind: 'entry', entry: Entry }
  | { kind: 'hard-state', hardState: HardState }
  /** A snapshot at `index` was saved: forget entries <= index, or every entry when `all` (the log disagreed). */
  | { kind: 'reset', index: number, all: boolean }

function toPayload (record: WalRecord): unknown {
  switch (record.kind) {
    case 'entry': {
      const e = record.entry
      return { t: 1, e: { i: e.index, m: e.term, y: e.type, d: e.data, ...(e.proposalId !== undefined ? { c: e.proposalId.clientId, s: e.proposalId.seq } : {}) } }
    }
    case 'hard-state': return { t: 2, h: { m: record.hardState.term, v: record.hardState.vote, c: record.hardState.commit } }
    case 'reset': return { t: 3, s: record.index, a: record.all }
  }
}

export function encodeRecord (record: WalRecord): Buffer {
  const payload = encodeCanonical(toPayload(record))
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length)
  out.writeUInt32BE(payload.length, 0)
  out.writeUInt32BE(crc32(payload), 4)
  out.set(payload, RECORD_HEADER_BYTES)
  return out
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

function fromPayload (value: unknown): WalRecord | null {
  if (typeof value !== 'object' || value === null) return null
  const v = value as { t?: unknown, e?: Record<string, unknown>, h?: Record<string, unknown>, s?: unknown }
  if (v.t === 1 && v.e !== undefined) {
    const { i, m, y, d, c, s } = v.e
    if (!isInt(i) || !isInt(m) || !isInt(y) || !(d instanceof Uint8Array)) return null
    const entry: Entry = { index: i, term: m, type: y, data: d }
    if (typeof c === 'string' && isInt(s)) entry.proposalId = { clientId: c, seq: s }
    return { kind: 'entry', entry }
  }
  if (v.t === 2 && v.h !== undefined) {
    const { m, v: vote, c } = v.h
    if (!isInt(m) || !isInt(c) || !(vote === null || typeof vote === 'string')) return null
    return { kind: 'hard-state', hardState: { term: m, vote, commit: c } }
  }
  const all = (value as { a?: unknown }).a
  if (v.t === 3 && isInt(v.s) && typeof all === 'boolean') return { kind: 'reset', index: v.s, all }
  return null
}

export type ReadResult =
  | { ok: true, record: WalRecord, next: number }
  /** 'end': no byte left; 'zeros': only zeros left (pre-written space); the rest are damage. */
  | { ok: false, reason: 'end' | 'zeros' | 'partial' | 'checksum' | 'bad-length' | 'undecodable' }

/** Reads the record at `offset` of `buffer`. */
export function readRecord (buffer: Buffer, offset: number): ReadResult {
  if (offset === buffer.length) return { ok: false, reason: 'end' }
  const zeroLength = offset + 4 <= buffer.length ? buffer.readUInt32BE(offset) === 0 : true
  if (zeroLength && zerosFrom(buffer, offset)) return { ok: false, reason: 'zeros' }
  if (offset + RECORD_HEADER_BYTES > buffer.length) return { ok: false, reason: 'partial' }
  const length = buffer.readUInt32BE(offset)
  if (length === 0 || length > RECORD_PAYLOAD_BYTES_MAX) return { ok: false, reason: 'bad-length' }
  const end = offset + RECORD_HEADER_BYTES + length
  if (end > buffer.length) return { ok: false, reason: 'partial' }
  const payload = buffer.subarray(offset + RECORD_HEADER_BYTES, end)
  if (crc32(payload) !== buffer.readUInt32BE(offset + 4)) return { ok: false, reason: 'checksum' }
  let record: WalRecord | null
  try {
    // Bounded: whether a record is 'undecodable' decides torn tail or corruption, so it must not depend on
    // the stack left at the read (codec/nesting.ts).
    record = fromPayload(decodeBounded(payload))
  } catch {
    record = null
  }
  if (record === null) return { ok: false, reason: 'undecodable' }
  return { ok: true, record, next: end }
}

const ZEROS = Buffer.alloc(64 * 1024)

/** True when every byte of `buffer` from `offset` on is zero (compared 64 KiB at a time). */
export function zerosFrom (buffer: Buffer, offset: number): boolean {
  for (let at = offset; at < buffer.length; at += ZEROS.length) {
    const end = Math.min(buffer.length, at + ZEROS.length)
    if (!buffer.subarray(at, end).equals(ZEROS.subarray(0, end - at))) return false
  }
  return true
}

/**
 * True when a valid record (plausible length, matching checksum, decodable) starts anywhere after the bad
 * record at `offset`. Only then is the damage not a torn tail: a torn tail is the last write, with nothing
 * valid after it. Every byte offset is tried, because the bad record's own length field may be the damage.
 * Cheap in practice: most offsets fail the length check before any checksum is computed.
 */
export function validDataAfter (buffer: Buffer, offset: number): boolean {
  // A record's length field is not zero, so none starts after the last non-zero byte (a pre-written tail).
  let limit = buffer.length
  while (limit > offset && buffer[limit - 1] === 0) limit--
  for (let at = offset + 1; at < limit && at + RECORD_HEADER_BYTES < buffer.length; at++) {
    const length = buffer.readUInt32BE(at)
    if (length === 0 || length > buffer.length - at - RECORD_HEADER_BYTES) continue
    if (readRecord(buffer, at).ok) return true
  }
  return false
}
