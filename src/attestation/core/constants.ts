/**
 * @module attestation/core/constants
 * Limits of the attestation chain. Each one is part of the deterministic derivation (every node and every
 * verifier must use the same value), so changing one changes the chain format version.
 */

/** The block and export format version (`v` in every encoded value). */
export const CHAIN_FORMAT_VERSION = 1

/**
 * Heights behind the head a seal may still cover. Older seals are committed as `seal-out-of-window`
 * rejections: the check needs the sealed block's CID, and only this many are carried in snapshots.
 */
export const SEAL_WINDOW_HEIGHTS = 1024

/** Witness signatures one seal may carry (voters plus learners); more is a `malformed-seal` rejection. */
export const MAX_WITNESSES_PER_SEAL = 64

/** Bytes of one encoded block; a larger one is malformed (a proposal is at most 16 KiB). */
export const MAX_BLOCK_BYTES = 64 * 1024

/** Bytes of one export file a verifier reads; larger files are refused before decoding. */
export const MAX_EXPORT_BYTES = 1024 * 1024 * 1024
