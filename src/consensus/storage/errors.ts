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
