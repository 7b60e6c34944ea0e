/**
 * @module cli/common
 * What every command shares: the data-dir option, and reading a file the operator named.
 */
import { readFile } from 'node:fs/promises'
import { CliInputError } from './validate.js'

export const DATA_DIR_HELP = 'data directory (default: $REVOADA_DATA_DIR or ./.revoada)'

export function dataDirOf (opts: { dataDir?: string }): string {
  return opts.dataDir ?? process.env.REVOADA_DATA_DIR ?? './.revoada'
}

/**
 * The bytes of the file `file` that the operator gave as `what` (a flag or an argument's name).
 * @throws CliInputError (exit 3) naming both when it cannot be read (a directory, missing, no permission): the bare
 *   fs error names no path for a directory, and its exit 1 is also `chain verify`'s "verification failed"
 */
export async function readInputFile (what: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new CliInputError(`${what} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}
