/**
 * @module consensus/storage/constants
 * On-disk format constants and limits of the write-ahead log.
 */

/** A segment is closed and a new one started past this size. */
export const SEGMENT_BYTES_MAX_DEFAULT = 64 * 1024 * 1024
/**
 * Zeros written ahead of the last record of a WAL segment at a time (issue 16): appends overwrite them, so
 * an fdatasync after an append does not change the file's size (no journal commit). Extended when half is
 * used; capped at the segment size.
 */
export const PREALLOCATE_BYTES_DEFAULT = 1024 * 1024
/** Record header: u32 payload length, u32 CRC-32 of the payload (big-endian). */
export const RECORD_HEADER_BYTES = 8
/** Largest record payload accepted on read; a larger length field is corruption. */
export const RECORD_PAYLOAD_BYTES_MAX = 64 * 1024 * 1024
/** Snapshot files kept (the newest is used; one older is kept while the new one settles). */
export const SNAPSHOTS_KEPT = 2
