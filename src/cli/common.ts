/**
 * @module cli/common
 * What every command shares: the data-dir option, and reading a file the operator named.
 */
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { CliInputError } from './validate.js'
import { assertNotRemoved } from '../consensus/removal-record.js'

export const DATA_DIR_HELP = 'data directory (default: $REVOADA_DATA_DIR or ./.revoada)'

export function dataDirOf (opts: { dataDir?: string }): string {
  return opts.dataDir ?? process.env.REVOADA_DATA_DIR ?? './.revoada'
}

/**
 * What a command that found no node running in `dataDir` says when the data dir records its removal (it left,
 * or was removed, and stopped for good): NodeNotRunningError told the operator to start it, which is refused.
 * @throws NodeRemovedError (exit 6) when `err` is NodeNotRunningError and the data dir holds `removed.json`;
 *   otherwise `err` itself
 */
export async function throwRemovedOr (dataDir: string, err: unknown): Promise<never> {
  if ((err as Error).name === 'NodeNotRunningError') {
    await assertNotRemoved(dataDir)
  }
  throw err
}

/** A file the operator named is larger than the command takes (exit 3). */
export class InputFileTooLargeError extends Error {
  static override readonly name = 'InputFileTooLargeError'
  constructor (what: string, file: string, bytesMax: number) {
    super(`${what} ${file}: larger than ${bytesMax} bytes, the most it takes`)
    this.name = 'InputFileTooLargeError'
  }
}

/**
 * The bytes of the file `file` that the operator gave as `what` (a flag or an argument's name), at most
 * `bytesMax` of them: no more than bytesMax + 1 are read, so a huge file or an endless one (`/dev/zero`) costs
 * no more memory than that.
 * @throws InputFileTooLargeError (exit 3) naming both and the limit when it holds more
 * @throws CliInputError (exit 3) naming both when it cannot be read (a directory, missing, no permission): the bare
 *   fs error names no path for a directory, and its exit 1 is also `chain verify`'s "verification failed"
 */
export async function readInputFile (what: string, file: string, bytesMax: number): Promise<Buffer> {
  let handle: FileHandle | undefined
  try {
    handle = await open(file, 'r')
    const buffer = Buffer.alloc(bytesMax + 1)
    let length = 0
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
    }
    if (length > bytesMax) throw new InputFileTooLargeError(what, file, bytesMax)
    return buffer.subarray(0, length)
  } catch (err) {
    if (err instanceof InputFileTooLargeError) throw err
    throw new CliInputError(`${what} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  } finally {
    await handle?.close()
  }
}
