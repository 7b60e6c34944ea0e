/**
 * @module consensus/storage/errors
 * Operating errors of durable storage (STYLE §10). Callers match on `name`.
 */

/**
 * The data on disk is damaged somewhere other than a torn tail: the node refuses to start rather than
 * forget acknowledged data. The message names the file and the byte offset.
 */
export class StorageCorruptionError extends Error {
  static override readonly name = 'StorageCorruptionError'
  constructor (readonly file: string, readonly offset: number, reason: string) {
    super(`storage corrupt in ${file} at byte ${offset}: ${reason}`)
    this.name = 'StorageCorruptionError'
  }
}

/** The storage was used after close(). */
export class StorageClosedError extends Error {
  static override readonly name = 'StorageClosedError'
  constructor (message = 'storage is closed') {
    super(message)
    this.name = 'StorageClosedError'
  }
}

/** The file system has no space left (ENOSPC, EDQUOT): the write was rolled back; retry when space returns. */
export class StorageFullError extends Error {
  static override readonly name = 'StorageFullError'
  constructor (readonly file: string, readonly operation: string, readonly code: string) {
    super(`no space left writing ${file} (${operation}: ${code}); nothing from this write was acknowledged`)
    this.name = 'StorageFullError'
  }
}

/**
 * A write or fsync failed for another reason (EIO, EROFS, a short write that made no progress…). The
 * unsynced tail was rolled back, so retrying rewrites it; nothing from the failed write was acknowledged.
 */
export class StorageIoError extends Error {
  static override readonly name = 'StorageIoError'
  constructor (readonly file: string, readonly operation: string, readonly code: string) {
    super(`storage ${operation} failed on ${file}: ${code}; nothing from this write was acknowledged`)
    this.name = 'StorageIoError'
  }
}

/** Names of the errors after which storage is intact and the same write may be retried later. */
export const RETRYABLE_STORAGE_ERRORS: ReadonlySet<string> = new Set([StorageFullError.name, StorageIoError.name])

/** Wraps a failed fs call's error as StorageFullError or StorageIoError. */
export function toStorageError (err: unknown, operation: string, file: string): StorageFullError | StorageIoError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
  if (code === 'ENOSPC' || code === 'EDQUOT') return new StorageFullError(file, operation, code)
  return new StorageIoError(file, operation, code)
}
