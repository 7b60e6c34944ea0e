/**
 * @module consensus/entry-payload
 * The bytes of a Normal (or command-carrying ConfChange) entry: the proposer's command plus the time the
 * leader stamped when it appended it. Stamping at the leader means every replica applies identical bytes
 * (DESIGN.md §5) while the proposer's signed envelope stays untouched inside.
 */
import { decodeBounded, encodeCanonical } from '../codec/index.js'
import { MAX_CLIENT_ID_CHARS } from './core/constants.js'
import type { ProposalId } from './core/types.js'

export interface EntryPayload {
  /** The proposer's command bytes (for MeshShape: a signed envelope). */
  command: Uint8Array
  /** Leader wall-clock ms at append time. */
  timeMs: number
}

/**
 * Payloads this process encoded, by the identity of their bytes: decoding them again (a leader applies the
 * entries it stamped) returns the very command byte array they were built from, so the command's decode and
 * CID, cached by byte array (shape/core/envelope.ts), are not computed a second time (issue 16). Weak: it
 * holds nothing the log dropped; nobody mutates entry bytes or a decoded payload.
 */
const encodedHere = new WeakMap<Uint8Array, EntryPayload>()

export function encodeEntryPayload (payload: EntryPayload): Uint8Array {
  const bytes = encodeCanonical({ c: payload.command, t: payload.timeMs })
  encodedHere.set(bytes, { command: payload.command, timeMs: payload.timeMs })
  return bytes
}

/**
 * Decodes an entry payload; null when the bytes are not one (treated as a rejected command). `itemsMax` (no
 * bound by default, as apply must decode) makes bytes of more CBOR data items null before any is decoded.
 */
export function decodeEntryPayload (bytes: Uint8Array, itemsMax = Number.MAX_SAFE_INTEGER): EntryPayload | null {
  const known = encodedHere.get(bytes)
  if (known !== undefined) return known
  try {
    // Bounded nesting: a deep value must fail on every replica alike, not where the stack runs out (codec/nesting.ts).
    const value = decodeBounded<{ c?: unknown, t?: unknown }>(bytes, itemsMax)
    if (!(value.c instanceof Uint8Array) || typeof value.t !== 'number' || !Number.isSafeInteger(value.t)) return null
    return { command: value.c, timeMs: value.t }
  } catch {
    return null
  }
}

/** The command a configuration-change entry carries (in ConfChange.context), with its proposal id. */
export interface ConfChangeContext {
  payload: EntryPayload
  id: ProposalId
}

export function encodeEntryPayloadContext (context: { payload: Uint8Array, id: ProposalId }): Uint8Array {
  return encodeCanonical({ p: context.payload, i: context.id.clientId, s: context.id.seq })
}

/**
 * Decodes a conf-change context; null when malformed (the change then applies without a command). Its proposal
 * id is held to the wire's rules for an entry's (transport/wire.ts): it keys the proposer's session, whose
 * order a NaN, fractional or negative seq would break for every later proposal of that session.
 */
export function decodeContext (bytes: Uint8Array): ConfChangeContext | null {
  try {
    const value = decodeBounded<{ p?: unknown, i?: unknown, s?: unknown }>(bytes)
    if (!(value.p instanceof Uint8Array) || typeof value.i !== 'string' || value.i.length > MAX_CLIENT_ID_CHARS) return null
    if (typeof value.s !== 'number' || !Number.isSafeInteger(value.s) || value.s < 0) return null
    const payload = decodeEntryPayload(value.p)
    if (payload === null) return null
    return { payload, id: { clientId: value.i, seq: value.s } }
  } catch {
    return null
  }
}
