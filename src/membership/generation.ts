/**
 * @module membership/generation
 * The node's generation: a number in `<data-dir>/generation` that grows on every start, written
 * atomically (temp file, fsync, rename), so peers can tell a restarted node from a replay of its old
 * heartbeats. A corrupt file is an error, never silently reset (a reset would make the new heartbeats
 * look stale to every peer).
 *
 * Each start takes the larger of the stored generation plus one and the wall clock in milliseconds, as
 * Cassandra takes its generation from the clock. A data dir restored from a backup holds an older number than
 * its peers remember: with the count alone its heartbeats (and, as leader, its digests) were dropped as stale by
 * every peer until they declared it dead and removed it, about 63 s, and the policy replaced its roles meanwhile.
 * The clock puts the restored node above every generation it took before, as long as the clock was not behind
 * then by more than it is now; the stored count keeps the generation growing when the clock is behind or two
 * starts come within a millisecond.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'

export class GenerationFileError extends Error {
  static override readonly name = 'GenerationFileError'
  constructor (message = 'generation file is corrupt') {
    super(message)
    this.name = 'GenerationFileError'
  }
}

/**
 * Reads the previous generation (0 when absent), stores and returns the next one: the larger of it plus one and
 * `wallMs`.
 * @throws GenerationFileError when the file holds no generation number
 */
export async function nextGeneration (dataDir: string, wallMs: number = Date.now()): Promise<number> {
  const file = path.join(dataDir, 'generation')
  let previous = 0
  try {
    const text = (await fs.readFile(file, 'utf8')).trim()
    if (!/^\d{1,15}$/.test(text)) throw new GenerationFileError(`${file} does not hold a generation number: ${JSON.stringify(text.slice(0, 32))}`)
    previous = Number(text)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  // 13 digits until the year 2286: within the 15 the file is read with, and a safe integer.
  const next = Math.max(previous + 1, Math.floor(wallMs))
  if (!Number.isSafeInteger(next) || String(next).length > 15) throw new GenerationFileError(`${file}: no generation after ${previous}`)
  const temp = `${file}.tmp`
  const handle = await fs.open(temp, 'w', 0o600)
  try {
    await handle.writeFile(`${next}\n`)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.rename(temp, file)
  const dir = await fs.open(dataDir, 'r')
  try { await dir.sync() } finally { await dir.close() }
  return next
}
