/**
 * @module codec
 * Encoding, content ids and signatures (DESIGN.md §3): deterministic CBOR, BLAKE3 CIDs, domain-separated
 * ed25519.
 *
 * @example
 * const { bytes, cid } = encodeWithCid({ kind: 'promote', node: id })
 * const signature = createSigner(privateKey, nodeId).sign('proposal', clusterId, cid)
 * verifySignature({ nodeId, purpose: 'proposal', clusterId, cid, signature }) // true
 */
export { blake3, createBlake3, blake3DeriveKey, BLAKE3_DIGEST_BYTES } from './hash.js'
export type { StreamingHasher } from './hash.js'
export { encodeCanonical, decodeCanonical, decodeCanonicalGeneral, equalBytes } from './cbor.js'
export { decodeCanonicalFast, NOT_FAST } from './fast-decode.js'
export { encodeCanonicalFast, CanonicalWriter } from './fast-encode.js'
export { cidOfBytes, cidOfValue, encodeWithCid, verifyCid, parseCid, canonicalCidText, cidOfBytesWithCodec, CID, BLAKE3_MULTIHASH_CODE, DAG_CBOR_CODE, RAW_CODE } from './cid.js'
export { createSigner, verifySignature, signingMessage, SIGNATURE_BYTES } from './sign.js'
export type { Signer, SignaturePurpose, SignatureCheck } from './sign.js'
export { peerIdTextProblem, PEER_ID_TEXT_CHARS_MAX } from './peer-id.js'
export { decodeBounded, nestsDeeperThan, overBounds } from './nesting.js'
export { DECODE_DEPTH_MAX } from './constants.js'
export { MalformedEncodingError, NonCanonicalEncodingError } from './errors.js'
