/**
 * @module codec/cid
 * Content ids (DESIGN.md §3): CIDv1 with the BLAKE3-256 multihash (code 0x1e), codec dag-cbor (0x71) for
 * structured values and raw (0x55) for blobs, through `multiformats`.
 */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { blake3 } from './hash.js'
import { encodeCanonical, equalBytes } from './cbor.js'

/** Multicodec code of the BLAKE3 multihash. */
export const BLAKE3_MULTIHASH_CODE = 0x1e
export const DAG_CBOR_CODE = 0x71
export const RAW_CODE = 0x55

/** A CIDv1 of `bytes` under `codec`. */
export function cidOfBytesWithCodec (bytes: Uint8Array, codec: number): CID {
  return CID.createV1(codec, Digest.create(BLAKE3_MULTIHASH_CODE, blake3(bytes)))
}

/** The CID of a blob (raw codec). */
export function cidOfBytes (bytes: Uint8Array): CID {
  return cidOfBytesWithCodec(bytes, RAW_CODE)
}

/** The canonical bytes of `value` and their dag-cbor CID. */
export function encodeWithCid (value: unknown): { bytes: Uint8Array, cid: CID } {
  const bytes = encodeCanonical(value)
  return { bytes, cid: cidOfBytesWithCodec(bytes, DAG_CBOR_CODE) }
}

export function cidOfValue (value: unknown): CID {
  return encodeWithCid(value).cid
}

/** True when `cid` is a BLAKE3 CID whose digest matches `bytes`. Never throws. */
export function verifyCid (cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== BLAKE3_MULTIHASH_CODE) return false
  return equalBytes(cid.multihash.digest, blake3(bytes))
}

/**
 * The one string form this build writes for `cid`: a fresh encoding of its bytes (for a CIDv1, lowercase
 * base32 without padding). NB: not `cid.toString()`, which returns the very text a parsed CID came from
 * (multiformats caches it), and the base32 decoder takes either case and trailing `=`: compared with
 * `toString()`, a mixed-case or padded spelling passes as canonical. Shared by the content index
 * (content/object-record.ts) and the role catalog (consensus/shape/core/catalog.ts).
 */
export function canonicalCidText (cid: CID): string {
  return CID.decode(cid.bytes).toString()
}

/** Parses a CID string; null when it is not one. */
export function parseCid (text: string): CID | null {
  try {
    return CID.parse(text)
  } catch {
    return null
  }
}

export { CID }
