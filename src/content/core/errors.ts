/**
 * @module content/core/errors
 * Operating errors of the content layer (STYLE §10): one class per condition, matched by `name`.
 */

function named<T extends Error> (err: T, name: string): T {
  err.name = name
  return err
}

/**
 * A peer's value, rendered for an error message without running any of its code: `JSON.stringify` of a
 * BigInt throws (a directory entry name; found by the content-wire fuzz target), and so would `String()` of
 * a decoded map with a `toString` field.
 */
export function describeValue (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 64))
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return `${value}`
  if (value === null || value === undefined) return `${value}`
  if (value instanceof Uint8Array) return `bytes(${value.length})`
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`
}

/** A manifest or wire message that is not what the format says (docs/CONTENT.md). */
export class MalformedContentError extends Error {
  static override readonly name = 'MalformedContentError'
  constructor (message = 'malformed content message') { super(message); named(this, 'MalformedContentError') }
}

/** Bytes whose BLAKE3 digest is not the one their CID (or manifest) names: never stored. */
export class ChunkVerificationError extends Error {
  static override readonly name = 'ChunkVerificationError'
  constructor (message = 'chunk does not match its digest') { super(message); named(this, 'ChunkVerificationError') }
}

/** Storing would take the store above its quota. Nothing was written. */
export class QuotaExceededError extends Error {
  static override readonly name = 'QuotaExceededError'
  constructor (message = 'content quota exceeded') { super(message); named(this, 'QuotaExceededError') }
}

/** The disk refused the write (ENOSPC/EDQUOT). The partial file was removed. */
export class DiskFullError extends Error {
  static override readonly name = 'DiskFullError'
  constructor (message = 'disk full') { super(message); named(this, 'DiskFullError') }
}

/**
 * A held block could not be read for another reason than its file being gone (EMFILE, EIO): it is kept, as
 * held, and read again at the next call. No proof that it is gone, so nothing counts it as absent.
 */
export class BlockReadError extends Error {
  static override readonly name = 'BlockReadError'
  constructor (message = 'a held block could not be read') { super(message); named(this, 'BlockReadError') }
}

/** A file beyond FILE_BYTES_MAX, a directory beyond DIR_ENTRIES_MAX or too deep. */
export class ObjectTooLargeError extends Error {
  static override readonly name = 'ObjectTooLargeError'
  constructor (message = 'object too large') { super(message); named(this, 'ObjectTooLargeError') }
}

/**
 * The caller accepts only a file (`filesOnly`) and the CID names a directory: refused once its manifest is
 * held, before anything below it is asked for, and neither recorded nor pinned.
 */
export class NotAFileError extends Error {
  static override readonly name = 'NotAFileError'
  constructor (message = 'not a file') { super(message); named(this, 'NotAFileError') }
}

/** The CID is not in this store (and was not fetched). */
export class ContentNotFoundError extends Error {
  static override readonly name = 'ContentNotFoundError'
  constructor (message = 'content not found') { super(message); named(this, 'ContentNotFoundError') }
}

/** No member announced the CID within the wait. */
export class NoProvidersError extends Error {
  static override readonly name = 'NoProvidersError'
  constructor (message = 'no provider announced this content') { super(message); named(this, 'NoProvidersError') }
}

/** Every provider failed or lied before the fetch finished. What was verified is kept; a retry resumes. */
export class FetchFailedError extends Error {
  static override readonly name = 'FetchFailedError'
  constructor (message = 'fetch failed') { super(message); named(this, 'FetchFailedError') }
}

/**
 * The caller stopped waiting for a fetch (its signal ended: a timeout, a cancel). The fetch itself ends too
 * when no other caller waits for it; what was verified stays, and a later fetch of the CID resumes it.
 */
export class FetchAbortedError extends Error {
  static override readonly name = 'FetchAbortedError'
  constructor (message = 'fetch aborted by its caller') { super(message); named(this, 'FetchAbortedError') }
}

/** Too many fetches queued. */
export class FetchQueueFullError extends Error {
  static override readonly name = 'FetchQueueFullError'
  constructor (message = 'too many fetches queued') { super(message); named(this, 'FetchQueueFullError') }
}

/** The store index holds OBJECTS_MAX objects. */
export class StoreIndexFullError extends Error {
  static override readonly name = 'StoreIndexFullError'
  constructor (message = 'content index full') { super(message); named(this, 'StoreIndexFullError') }
}

/**
 * The store index's journal is damaged before its end: a frame that fails its checksum with valid frames
 * after it, so the damage is not a write cut short by a crash (that is the last frame, dropped at open). The
 * store refuses to open rather than lose the records after the damage unnoticed; the message names the file,
 * the byte offset and the repair.
 */
export class StoreJournalCorruptError extends Error {
  static override readonly name = 'StoreJournalCorruptError'
  constructor (message = 'content index journal corrupt') { super(message); named(this, 'StoreJournalCorruptError') }
}

/** The text is not a CID, or not a BLAKE3 CID of a codec the content layer knows. */
export class InvalidCidError extends Error {
  static override readonly name = 'InvalidCidError'
  constructor (message = 'invalid content id') { super(message); named(this, 'InvalidCidError') }
}

/**
 * A provider answered `busy`: it serves as many streams as it allows (to us, or in total). Not a fault of
 * the provider: the fetch asks the others and this one again after `retryAfterMs`, without scoring it down.
 */
export class ProviderBusyError extends Error {
  static override readonly name = 'ProviderBusyError'
  constructor (readonly retryAfterMs: number, message = `provider busy; retry after ${retryAfterMs} ms`) { super(message); named(this, 'ProviderBusyError') }
}
