/**
 * @module attestation/constants
 * Defaults and limits of the attestation layer's IO edge (the derivation's own limits are in
 * core/constants.ts).
 */
import { MAX_ETCD_HOLDERS } from '../consensus/shape/core/index.js'
import { MAX_EXPORT_BYTES } from './core/constants.js'

/** A witness signs its head at most this often, and only when the head moved. */
export const SEAL_INTERVAL_MS_DEFAULT = 1_000
/**
 * Heights above this node's own head a witness may sign and still be kept (witness-pool.ts `judgeWitness`;
 * beyond it: `too-far-ahead`, ignored). A slow node honestly lags: the leader witnesses its head while a
 * follower is still applying the entries below it, and the follower co-signs that height once it gets
 * there. It can only do so before the leader's next witness (one seal interval later) replaces the target,
 * so the window must hold at least one interval of the fastest chain growth: `bench:consensus` commits a
 * few thousand commands a second at most (docs/BENCHMARKS.md), each at most one block, so 16,384 heights are
 * several intervals of it. A node further behind gains nothing from the witness: a newer one comes every
 * interval. What the bound buys: every kept height is one the chain reaches within this many blocks, so
 * sealing passes it and the pool forgets it (a height no chain reaches stayed forever).
 */
export const WITNESS_HEIGHTS_AHEAD_MAX = 16_384
/**
 * Heights one signer keeps signatures at in the pool; beyond it the signer's own lowest height is forgotten
 * (or the new one refused when it is lower still: `signer-full`). An honest voter signs each height once,
 * one height per seal interval plus co-signs, so this keeps its last 64 or more (the 64 heights the pool
 * held in all before); a signer's flood displaces only its own signatures.
 */
export const WITNESS_GROUPS_PER_SIGNER_MAX = 64
/**
 * Different heads kept at one height; a new head beyond it is refused (`heads-full`). A signer signs one head
 * per height (`second-head` otherwise) and only voters are kept, so one voter set puts at most
 * MAX_ETCD_HOLDERS heads at a height: the honest head is refused only when every voter signed another one.
 */
export const WITNESS_HEADS_PER_HEIGHT_MAX = MAX_ETCD_HOLDERS
/**
 * Signers with signatures in the pool; a new signer beyond it forgets the one whose newest signature is the
 * lowest. Only voters are kept: room for the voters before and after a change of the voter set. With
 * WITNESS_GROUPS_PER_SIGNER_MAX it bounds the pool to 14 × 64 signatures.
 */
export const WITNESS_POOL_SIGNERS_MAX = 2 * MAX_ETCD_HOLDERS
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
/**
 * Bytes of an export `revoada chain verify` and `chain export` read at most, from a file or from the running
 * node: the verifier's own limit (MAX_EXPORT_BYTES, 1 GiB; a larger export decodes as no export), below Node's
 * readFile limit (2 GiB - 1, its kIoMaxLength); beyond, ExportFileTooLargeError before the rest is read.
 */
export const EXPORT_FILE_BYTES_MAX = MAX_EXPORT_BYTES
