/**
 * @module membership/generation
 * The node's generation: a counter in `<data-dir>/generation` that grows on every start, written
 * atomically (temp file, fsync, rename), so peers can tell a restarted node from a replay of its old
 * heartbeats. A corrupt file is an error, never silently reset (a reset would make the new heartbeats
 * look stale to every peer).
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

/** Reads the previous generation (0 when absent), stores and returns the next one. */
export async function nextGeneration (dataDir: string): Promise<number> {
  const file = path.join(dataDir, 'generation')
  let previous = 0
  try {
    const text = (await fs.readFile(file, 'utf8')).trim()
    if (!/^\d{1,15}$/.test(text)) throw new GenerationFileError(`${file} does not hold a generation number: ${JSON.stringify(text.slice(0, 32))}`)
    previous = Number(text)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const next = previous + 1
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
