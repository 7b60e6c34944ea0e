/**
 * @module content/disk-error
 * A write's error as the store reports it: a full disk (ENOSPC, EDQUOT) is a DiskFullError, whichever file
 * was being written (a block, index.json or its journal); any other error passes through.
 */
import { DiskFullError } from './core/index.js'

export function writeError (err: unknown, what: string): unknown {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOSPC' || code === 'EDQUOT' ? new DiskFullError(`disk full while ${what}`) : err
}
