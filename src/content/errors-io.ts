/**
 * @module content/errors-io
 * Normalising what libp2p streams reject with: lpStream may reject with a DOM Event (StreamResetEvent) whose
 * `.error` holds the error (libp2p-notes §4.5 item 3).
 */
export function errorMessage (err: unknown): string {
  if (typeof Event !== 'undefined' && err instanceof Event) return String((err as Event & { error?: Error }).error?.message ?? err.type)
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

export function errorName (err: unknown): string {
  if (typeof Event !== 'undefined' && err instanceof Event) return (err as Event & { error?: Error }).error?.name ?? err.type
  return err instanceof Error ? err.name : 'Error'
}
