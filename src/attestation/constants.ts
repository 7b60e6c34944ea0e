/**
 * @module attestation/constants
 * Defaults and limits of the attestation layer's IO edge (the derivation's own limits are in
 * core/constants.ts).
 */

/** A witness signs its head at most this often, and only when the head moved. */
export const SEAL_INTERVAL_MS_DEFAULT = 1_000
/** Heights of witness signatures a node keeps; the oldest height is forgotten beyond it. */
export const WITNESS_POOL_HEIGHTS_MAX = 64
/** Bytes of one witness gossip message; larger ones are rejected by the topic validator. */
export const WITNESS_MESSAGE_BYTES_MAX = 1024
/** Blocks one `GET /v1/chain/blocks` answer carries at most. */
export const BLOCKS_PER_PAGE_MAX = 1_000
/** Chain file name inside `<data-dir>/chain`. */
export const CHAIN_FILE_NAME = 'blocks'
/** The chain state before the first stored block, when the file does not start at height 1. */
export const BASE_FILE_NAME = 'base.cbor'
/** Bytes of a record header: u32 length ‖ u32 crc32. */
export const RECORD_HEADER_BYTES = 8
