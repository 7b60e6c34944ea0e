/**
 * @module consensus/transport/wire
 * The Raft frame on `/revoada/raft/1.0.0`: deterministic CBOR of a compact, versioned encoding of one
 * `Message`, length-prefixed on the stream. Decoding is strict — unknown message types, wrong field
 * types, negative or unsafe numbers — and throws a typed MalformedFrameError, which closes that stream
 * only; the node keeps running.
 *
 * Limits: a frame is at most MAX_FRAME_BYTES, above the core's 1 MiB `maxSizePerMsgBytes` (the node's is
 * 256 KiB) and 1 MiB snapshot chunks with room for their envelope; a reader holds at most one partial frame
 * of this size (src/net/length-prefixed.ts). It holds at most FRAME_ITEMS_MAX CBOR data items, which is what
 * decoding costs: each one-byte item becomes a JS value.
 */
import { decodeBounded, decodeCanonicalFast, encodeCanonical, NOT_FAST } from '../../codec/index.js'
import {
  MAX_CLIENT_ID_CHARS, MAX_CONF_IDS, MAX_ENTRIES_PER_MSG, MAX_NODE_ID_CHARS, MAX_READ_CONTEXT_BYTES, WIRE_NUMBER_MAX
} from '../core/constants.js'
import { EntryType, MessageType } from '../core/types.js'
import type { ConfState, Entry, Message, SnapshotMeta } from '../core/types.js'

export const RAFT_PROTOCOL = '/revoada/raft/1.0.0'
export const MAX_FRAME_BYTES = 3 * 1024 * 1024
const VERSION = 1

/** CBOR data items of one entry as encodeFrame writes it: its map, and six keys (i m y d c s) with their values. */
const ENTRY_ITEMS_MAX = 13
/**
 * CBOR data items of a frame besides its entries, as encodeFrame writes it: the top-level map, its 19 keys with
 * their values (`e` an array, `sm` a map), and inside `sm` three keys with their values (`confState` a map),
 * five keys of confState with theirs, and its four lists of at most MAX_CONF_IDS ids.
 */
const FRAME_ENVELOPE_ITEMS_MAX = 1 + 2 * 19 + 2 * 3 + 2 * 5 + 4 * MAX_CONF_IDS
/**
 * CBOR data items in one frame (163,895): the most a frame of this build's or an earlier build's core holds,
 * MAX_ENTRIES_PER_MSG entries of ENTRY_ITEMS_MAX items and every other field at its largest. Decoding costs
 * per item (each one-byte `{}` becomes an object): a 3 MiB frame of them held 3.1 million and took 0.5–1.8 s and
 * ≈ 260 MB to decode (bench/frame-decode.ts). Both decode paths stop at the bound, the one-pass reader having
 * built at most this many items and the general path none; the frame is a MalformedFrameError.
 */
export const FRAME_ITEMS_MAX = MAX_ENTRIES_PER_MSG * ENTRY_ITEMS_MAX + FRAME_ENVELOPE_ITEMS_MAX

export class MalformedFrameError extends Error {
  static override readonly name = 'MalformedFrameError'
  constructor (message = 'malformed raft frame') {
    super(message)
    this.name = 'MalformedFrameError'
  }
}

const MESSAGE_TYPES = new Set<string>(Object.values(MessageType))

function entryOut (e: Entry): unknown {
  return { i: e.index, m: e.term, y: e.type, d: e.data, ...(e.proposalId !== undefined ? { c: e.proposalId.clientId, s: e.proposalId.seq } : {}) }
}

export function encodeFrame (m: Message): Uint8Array {
  const frame: Record<string, unknown> = {
    v: VERSION, t: m.type, f: m.from, o: m.to, m: m.term, i: m.index, l: m.logTerm, e: m.entries.map(entryOut),
    c: m.commit, r: m.reject, h: m.rejectHint
  }
  if (m.snapshotMeta !== undefined) frame.sm = m.snapshotMeta
  if (m.snapshotChunk !== undefined) frame.sc = m.snapshotChunk
  if (m.snapshotOffset !== undefined) frame.so = m.snapshotOffset
  if (m.snapshotDone !== undefined) frame.sd = m.snapshotDone
  if (m.context !== undefined) frame.x = m.context
  if (m.force !== undefined) frame.fo = m.force
  if (m.transferee !== undefined) frame.tr = m.transferee
  if (m.commitOnly === true) frame.co = true
  return encodeCanonical(frame)
}

/** Every number a peer sends is an integer in [0, WIRE_NUMBER_MAX] (constants.ts says why). */
/**
 * The frames that carry `m`, each at most MAX_FRAME_BYTES: one normally; an App too big for one frame is
 * split into Apps that chain (each names the entry before its first as its previous entry); an entry
 * or other message too big for any frame yields only the parts before it (none for a single message),
 * and the caller counts the drop: a frame above the limit is never written.
 */
export function encodeFrames (m: Message): { frames: Uint8Array[], complete: boolean } {
  return splitFrames(m)
}

/** `complete` is false when some entry (or the message) could not fit and the frames stop before it. */
function splitFrames (m: Message): { frames: Uint8Array[], complete: boolean } {
  const frame = encodeFrame(m)
  if (frame.length <= MAX_FRAME_BYTES) return { frames: [frame], complete: true }
  if (m.type !== MessageType.App || m.entries.length < 2) return { frames: [], complete: false }
  const half = Math.ceil(m.entries.length / 2)
  const head = m.entries.slice(0, half)
  const last = head[head.length - 1]!
  const first = splitFrames({ ...m, entries: head })
  if (!first.complete) return first
  const rest = splitFrames({ ...m, index: last.index, logTerm: last.term, entries: m.entries.slice(half) })
  return { frames: [...first.frames, ...rest.frames], complete: rest.complete }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= WIRE_NUMBER_MAX
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_NODE_ID_CHARS
const isIds = (v: unknown): v is string[] => Array.isArray(v) && v.length <= MAX_CONF_IDS && v.every(isId)
const fail = (what: string): never => { throw new MalformedFrameError(what) }

function entryIn (v: unknown): Entry {
  if (typeof v !== 'object' || v === null) fail('entry is not a map')
  const { i, m, y, d, c, s } = v as Record<string, unknown>
  if (!isInt(i) || !isInt(m) || !(d instanceof Uint8Array)) fail('entry fields')
  if (y !== EntryType.Normal && y !== EntryType.ConfChange && y !== EntryType.Empty) fail('entry type')
  const entry: Entry = { index: i as number, term: m as number, type: y as EntryType, data: d as Uint8Array }
  if (c !== undefined || s !== undefined) {
    if (typeof c !== 'string' || c.length > MAX_CLIENT_ID_CHARS || !isInt(s)) fail('entry proposal id')
    entry.proposalId = { clientId: c as string, seq: s as number }
  }
  return entry
}

function metaIn (v: unknown): SnapshotMeta {
  if (typeof v !== 'object' || v === null) fail('snapshot meta is not a map')
  const meta = v as { index?: unknown, term?: unknown, confState?: Partial<ConfState> | null }
  const cs = meta.confState
  if (!isInt(meta.index) || !isInt(meta.term) || typeof cs !== 'object' || cs === null || !isIds(cs.voters) || !isIds(cs.votersOutgoing) ||
      !isIds(cs.learners) || !isIds(cs.learnersNext) || typeof cs.autoLeave !== 'boolean') fail('snapshot meta')
  const conf = cs as ConfState
  // A fresh object: unknown keys a peer adds never reach the snapshot file.
  return {
    index: meta.index as number,
    term: meta.term as number,
    confState: {
      voters: conf.voters, votersOutgoing: conf.votersOutgoing, learners: conf.learners, learnersNext: conf.learnersNext,
      autoLeave: conf.autoLeave
    }
  }
}

/** Decodes and validates one frame. @throws MalformedFrameError */
export function decodeFrame (bytes: Uint8Array): Message {
  if (bytes.length > MAX_FRAME_BYTES) fail(`frame of ${bytes.length} bytes over ${MAX_FRAME_BYTES}`)
  let v: Record<string, unknown>
  try {
    // A canonical frame (what encodeFrame writes) through the one-pass reader, which gives the value dag-cbor
    // would at a fraction of its garbage (issue 16); anything else through dag-cbor with nesting bounded (its
    // recursion overflowed the stack on a deep frame: a RangeError, caught here only by luck of the catch).
    // Both stop at FRAME_ITEMS_MAX items: the reader gives up there and the general path's scan refuses.
    const fast = decodeCanonicalFast(bytes, FRAME_ITEMS_MAX)
    v = (fast !== NOT_FAST ? fast : decodeBounded(bytes, FRAME_ITEMS_MAX)) as Record<string, unknown>
  } catch (err) {
    return fail(`not CBOR: ${(err as Error).message}`)
  }
  if (typeof v !== 'object' || v === null || v.v !== VERSION) fail('unknown frame version')
  if (typeof v.t !== 'string' || !MESSAGE_TYPES.has(v.t) || v.t === MessageType.Hup) fail(`unknown message type ${String(v.t)}`)
  if (!isId(v.f) || !isId(v.o)) fail('from/to')
  if (!isInt(v.m) || !isInt(v.i) || !isInt(v.l) || !isInt(v.c) || !isInt(v.h) || typeof v.r !== 'boolean') fail('numeric fields')
  if (!Array.isArray(v.e) || v.e.length > MAX_ENTRIES_PER_MSG) fail('entries')
  const message: Message = {
    type: v.t as MessageType, from: v.f as string, to: v.o as string, term: v.m as number, index: v.i as number,
    logTerm: v.l as number, entries: (v.e as unknown[]).map(entryIn), commit: v.c as number, reject: v.r as boolean,
    rejectHint: v.h as number
  }
  if (v.sm !== undefined) message.snapshotMeta = metaIn(v.sm)
  if (v.sc !== undefined) { if (!(v.sc instanceof Uint8Array)) fail('snapshot chunk'); message.snapshotChunk = v.sc as Uint8Array }
  if (v.so !== undefined) { if (!isInt(v.so)) fail('snapshot offset'); message.snapshotOffset = v.so as number }
  if (v.sd !== undefined) { if (typeof v.sd !== 'boolean') fail('snapshot done'); message.snapshotDone = v.sd as boolean }
  if (v.x !== undefined) {
    if (!(v.x instanceof Uint8Array) || v.x.length > MAX_READ_CONTEXT_BYTES) fail('context')
    message.context = v.x as Uint8Array
  }
  if (v.fo !== undefined) { if (typeof v.fo !== 'boolean') fail('force'); message.force = v.fo as boolean }
  if (v.tr !== undefined) { if (!isId(v.tr)) fail('transferee'); message.transferee = v.tr as string }
  if (v.co !== undefined) { if (v.co !== true) fail('commit only'); message.commitOnly = true }
  return message
}
