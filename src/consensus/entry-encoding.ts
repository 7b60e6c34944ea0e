/**
 * @module consensus/entry-encoding
 * A log entry's canonical map `{i, m, y, d, c?, s?}` — the same map in a WAL record (storage/record.ts) and
 * in an App frame (transport/wire.ts) — encoded once per entry (issue 16): a leader writes each new entry
 * to its WAL and sends it to every follower in the same round, which encoded its bytes (the signed envelope,
 * up to 16 KiB) three times with two followers. The bytes are kept for the most recent entries only
 * (`ENTRY_ENCODINGS_MAX`, `ENTRY_ENCODING_BYTES_MAX`), keyed by the entry object and reused only while
 * every field still matches (entries are never mutated today; a mutated one is simply encoded again).
 */
import { encodeCanonical, PreEncoded } from '../codec/index.js'
import type { Entry } from './core/types.js'

/** How many entries' bytes are kept: a round's entries (a Ready's) are a handful. */
export const ENTRY_ENCODINGS_MAX = 256
/** Bytes kept at most over all kept entries (large entries are not kept beyond this). */
export const ENTRY_ENCODING_BYTES_MAX = 4 * 1024 * 1024

interface Kept {
  encoded: PreEncoded
  index: number
  term: number
  type: Entry['type']
  data: Uint8Array
  clientId: string | undefined
  seq: number | undefined
}

const kept = new Map<Entry, Kept>()
let keptBytes = 0

/** The entry's map as the encoders write it (also what decoders read back). */
export function entryToData (e: Entry): Record<string, unknown> {
  return { i: e.index, m: e.term, y: e.type, d: e.data, ...(e.proposalId !== undefined ? { c: e.proposalId.clientId, s: e.proposalId.seq } : {}) }
}

/** The entry's canonical bytes, for `encodeCanonical` to write in place of its map. */
export function encodedEntry (e: Entry): PreEncoded {
  const found = kept.get(e)
  if (found !== undefined && found.index === e.index && found.term === e.term && found.type === e.type && found.data === e.data &&
      found.clientId === e.proposalId?.clientId && found.seq === e.proposalId?.seq) return found.encoded
  const encoded = new PreEncoded(encodeCanonical(entryToData(e)))
  if (found !== undefined) forget(e, found)
  if (encoded.bytes.length <= ENTRY_ENCODING_BYTES_MAX) {
    kept.set(e, { encoded, index: e.index, term: e.term, type: e.type, data: e.data, clientId: e.proposalId?.clientId, seq: e.proposalId?.seq })
    keptBytes += encoded.bytes.length
    for (const [oldest, value] of kept) {
      if (kept.size <= ENTRY_ENCODINGS_MAX && keptBytes <= ENTRY_ENCODING_BYTES_MAX) break
      forget(oldest, value)
    }
  }
  return encoded
}

function forget (e: Entry, value: Kept): void {
  kept.delete(e)
  keptBytes -= value.encoded.bytes.length
}

/** How many entries and bytes are kept (tests). */
export function keptEntryEncodings (): { entries: number, bytes: number } {
  return { entries: kept.size, bytes: keptBytes }
}
