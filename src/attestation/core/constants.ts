/**
 * @module attestation/core/constants
 * Limits of the attestation chain. Each one is part of the deterministic derivation (every node and every
 * verifier must use the same value), so changing one changes the chain format version.
 */

/** The block and export format version (`v` in every encoded value but batch blocks). */
export const CHAIN_FORMAT_VERSION = 1

/**
 * `v` of a proposal block derived from a batch envelope (issue 16): the v1 keys plus `outcomes`. Blocks of
 * single-command envelopes keep v1 and their exact bytes, so existing chains re-derive unchanged.
 */
export const CHAIN_BATCH_BLOCK_VERSION = 2

/** Outcomes one batch block may list (the shape's MAX_BATCH_COMMANDS; more is a malformed block). */
export const MAX_OUTCOMES_PER_BLOCK = 64

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
