/**
 * @module consensus/request-refusal
 * The leader's answer to a forwarded request it refuses for good (issue 16 follow-up): a `prop-resp` Raft
 * message back to the follower that sent it, whose `context` names the request and why, as canonical CBOR
 * `{id: {clientId, seq}, reason}` within MAX_READ_CONTEXT_BYTES. The follower fails exactly the callers of
 * that request at once (ForwardedRequestRefusedError) instead of letting them wait for the operation
 * timeout. Decoding is strict: the follower trusts nothing but the leader's word that it refused.
 */
import { decodeCanonical, encodeCanonical } from '../codec/index.js'
import { MAX_READ_CONTEXT_BYTES } from './core/constants.js'
import type { ProposalId } from './core/types.js'

/** Characters of a refusal's reason that travel (it is cut to fit the context bound). */
export const REFUSAL_REASON_CHARS_MAX = 80
const CLIENT_ID_CHARS_MAX = 128

export interface RequestRefusal {
  id: ProposalId
  reason: string
}

/**
 * The refusal's bytes, its reason cut so that they fit MAX_READ_CONTEXT_BYTES; null when its id alone does
 * not fit, or is longer than a request id (CLIENT_ID_CHARS_MAX): nothing to answer with. A follower's request
 * ids fit (at most 128 characters, `parseRequestId`), but an entry's id comes from the sender, up to 256
 * characters, and a context above the bound made the follower refuse the frame and close the stream, losing
 * every message queued behind it (`request-refusal.test.ts`).
 */
export function encodeRefusal (refusal: RequestRefusal): Uint8Array | null {
  if (refusal.id.clientId.length > CLIENT_ID_CHARS_MAX) return null
  let reason = refusal.reason.slice(0, REFUSAL_REASON_CHARS_MAX)
  for (;;) {
    const bytes = encodeCanonical({ id: { clientId: refusal.id.clientId, seq: refusal.id.seq }, reason })
    if (bytes.length <= MAX_READ_CONTEXT_BYTES) return bytes
    if (reason.length === 0) return null
    reason = reason.slice(0, Math.max(0, reason.length - (bytes.length - MAX_READ_CONTEXT_BYTES)))
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)

/** The refusal `bytes` hold, or null when they are not exactly one (bounded, canonical, exact keys). */
export function decodeRefusal (bytes: Uint8Array | undefined): RequestRefusal | null {
  if (bytes === undefined || bytes.length > MAX_READ_CONTEXT_BYTES) return null
  let value: unknown
  try {
    value = decodeCanonical<unknown>(bytes)
  } catch {
    return null
  }
  if (!isRecord(value) || Object.keys(value).length !== 2 || !isRecord(value.id) || typeof value.reason !== 'string') return null
  const { clientId, seq } = value.id
  if (Object.keys(value.id).length !== 2 || typeof clientId !== 'string' || clientId.length === 0 || clientId.length > CLIENT_ID_CHARS_MAX) return null
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0 || value.reason.length > REFUSAL_REASON_CHARS_MAX) return null
  return { id: { clientId, seq }, reason: value.reason }
}
