/**
 * @module content/index-frame
 * Frames of the store index's journal (docs/CONTENT.md §3): one line each, `<crc32 of payload, 8 hex> <JSON
 * payload>\n`. The first frame is the header `{"journal":<id>,"version":1}`, naming the journal so index.json
 * can say which journal extends it; every other frame is `{"put":<record>}` or `{"drop":<root CID>}`, the
 * whole state of one object after a change. Frames of different objects commute and a frame of one object
 * replaces the earlier ones, so a batch needs no order and replaying a frame twice changes nothing.
 *
 * Text, not CBOR: the records are index.json's, checked by the same function, and an operator can read both.
 * JSON.stringify escapes every newline, so a payload never holds the frame separator.
 */
import { crc32 } from 'node:zlib'
import { assert } from '../util/assert.js'
import { INDEX_FRAME_BYTES_MAX } from './core/index.js'
import { indexRecord, isRootCidText, recordFields } from './object-record.js'
import type { ObjectRecord } from './object-record.js'

/** The journal format this build writes and reads (the header's `version`). */
export const JOURNAL_VERSION = 1
/** A journal id: 8 random bytes in hex, fresh for every journal. */
export const JOURNAL_ID = /^[0-9a-f]{16}$/

export type JournalFrame =
  | { kind: 'header', journalId: string }
  | { kind: 'put', record: ObjectRecord }
  | { kind: 'drop', cid: string }

const NEWLINE = 0x0a
const SPACE = 0x20
const CHECKSUM_CHARS = 8
const CHECKSUM = /^[0-9a-f]{8}$/

function payloadOf (frame: JournalFrame): unknown {
  switch (frame.kind) {
    case 'header': return { journal: frame.journalId, version: JOURNAL_VERSION }
    case 'put': return { put: recordFields(frame.record) }
    case 'drop': return { drop: frame.cid }
  }
}

/** One frame as the line written to the journal. */
export function encodeFrame (frame: JournalFrame): string {
  const payload = JSON.stringify(payloadOf(frame))
  const line = `${crc32(payload).toString(16).padStart(CHECKSUM_CHARS, '0')} ${payload}\n`
  // A record's frame is about 250 bytes: one near the bound is a bug, and would read back as damage.
  assert(Buffer.byteLength(line) <= INDEX_FRAME_BYTES_MAX, () => `journal frame of ${Buffer.byteLength(line)} bytes`)
  return line
}

/**
 * A frame read at some offset. `damaged`: not a whole frame as written (cut short, a checksum that fails, no
 * separator, too long), which a crash or the disk did. `invalid`: written whole (its checksum holds) but not
 * a frame of this format, or a record that fails the check index.json's records pass; skipped with a warning,
 * as index.json skips such records. `next` is the offset after the line.
 */
export type FrameRead =
  | { ok: true, frame: JournalFrame, next: number }
  | { ok: false, kind: 'damaged', reason: string, next: number }
  | { ok: false, kind: 'invalid', payload: string, next: number }

/** Reads the frame at `offset` of `bytes` (offset < bytes.length). */
export function readFrame (bytes: Buffer, offset: number): FrameRead {
  assert(offset < bytes.length, 'readFrame past the end')
  const newline = bytes.indexOf(NEWLINE, offset)
  if (newline === -1) return { ok: false, kind: 'damaged', reason: 'cut short (no end of line)', next: bytes.length }
  const next = newline + 1
  if (next - offset > INDEX_FRAME_BYTES_MAX) return { ok: false, kind: 'damaged', reason: `longer than ${INDEX_FRAME_BYTES_MAX} bytes`, next }
  const checksum = bytes.toString('latin1', offset, offset + CHECKSUM_CHARS)
  if (newline - offset <= CHECKSUM_CHARS + 1 || !CHECKSUM.test(checksum) || bytes[offset + CHECKSUM_CHARS] !== SPACE) {
    return { ok: false, kind: 'damaged', reason: 'no checksum', next }
  }
  const payload = bytes.subarray(offset + CHECKSUM_CHARS + 1, newline)
  if (crc32(payload) !== Number.parseInt(checksum, 16)) return { ok: false, kind: 'damaged', reason: 'checksum mismatch', next }
  const text = payload.toString('utf8')
  const frame = decodePayload(text)
  return frame === undefined ? { ok: false, kind: 'invalid', payload: text, next } : { ok: true, frame, next }
}

/** The frame a checksummed payload holds; undefined for anything but exactly one of the three shapes. */
function decodePayload (text: string): JournalFrame | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const o = value as Record<string, unknown>
  const keys = Object.keys(o).sort().join(',')
  if (keys === 'journal,version') {
    if (typeof o.journal !== 'string' || !JOURNAL_ID.test(o.journal) || o.version !== JOURNAL_VERSION) return undefined
    return { kind: 'header', journalId: o.journal }
  }
  if (keys === 'put') {
    const record = indexRecord(o.put)
    return record === undefined ? undefined : { kind: 'put', record }
  }
  if (keys === 'drop') return isRootCidText(o.drop) ? { kind: 'drop', cid: o.drop } : undefined
  return undefined
}

/** A payload for a log line: its first 200 characters. */
export function payloadExample (payload: string): string {
  return payload.length <= 200 ? payload : `${payload.slice(0, 200)}…`
}

/** The header's journal id, or undefined when the first frame is not a whole, valid header. */
export function readHeader (bytes: Buffer): { journalId: string, next: number } | undefined {
  if (bytes.length === 0) return undefined
  const read = readFrame(bytes, 0)
  return read.ok && read.frame.kind === 'header' ? { journalId: read.frame.journalId, next: read.next } : undefined
}

/** The frames after a journal's header, read whole up to the first damage. */
export interface JournalScan {
  frames: Array<Exclude<JournalFrame, { kind: 'header' }>>
  /** Payloads of whole frames that are not valid frames (skipped). */
  invalid: string[]
  /** The end of the last whole frame: where the next append goes. */
  validBytes: number
  /** Bytes after it, none of them a whole frame: a write a crash cut short, dropped by truncating. */
  tornBytes: number
}

export type ScanResult =
  | { ok: true, scan: JournalScan }
  /** Damage with a whole frame after it: not a cut-short write, and replaying past it would lose frames. */
  | { ok: false, offset: number, reason: string }

/**
 * Reads the frames from `offset` (after the header) to the end. Damage is torn (the tail a crash mid-append
 * leaves) when no whole frame follows it, and corrupt otherwise. NB: the store writes nothing after a batch
 * until its fsync returns, so only the last batch can be cut short; a power cut that persisted a later page
 * of that batch but not an earlier one reads as corrupt, which the store refuses rather than guess.
 */
export function scanJournal (bytes: Buffer, offset: number): ScanResult {
  const scan: JournalScan = { frames: [], invalid: [], validBytes: offset, tornBytes: 0 }
  let at = offset
  while (at < bytes.length) {
    const read = readFrame(bytes, at)
    if (!read.ok && read.kind === 'damaged') {
      if (wholeFrameFrom(bytes, read.next)) return { ok: false, offset: at, reason: read.reason }
      scan.tornBytes = bytes.length - at
      break
    }
    if (read.ok && read.frame.kind !== 'header') scan.frames.push(read.frame)
    else scan.invalid.push(read.ok ? 'a second header' : read.payload)
    at = read.next
    scan.validBytes = at
  }
  return { ok: true, scan }
}

/** Whether a whole frame (its checksum holds) starts at any line from `offset` on. */
function wholeFrameFrom (bytes: Buffer, offset: number): boolean {
  for (let at = offset; at < bytes.length;) {
    const read = readFrame(bytes, at)
    if (read.ok || read.kind === 'invalid') return true
    at = read.next
  }
  return false
}
