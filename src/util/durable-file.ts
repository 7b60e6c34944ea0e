/**
 * @module util/durable-file
 * Writes small files so that they survive a power cut, not just a process crash: the bytes go to a temp
 * file that is fsynced, then the temp file is renamed (or hard-linked, for create-only files) into place
 * and the directory is fsynced, so the new name itself is durable. Identity, cluster and lock files use it.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'

export interface DurableWriteOptions {
  /** File mode of the new file. */
  mode: number
  /** Fail with EEXIST instead of replacing an existing file. @default false */
  exclusive?: boolean
}

/** fsyncs a directory so that names created, renamed or removed in it survive a power cut. */
export async function fsyncDirectory (dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r')
  try { await handle.sync() } finally { await handle.close() }
}

/**
 * Writes `data` to `file` durably and atomically: readers see the old file or the new one, never half.
 * @throws the fs error (EEXIST when `exclusive` and the file exists; ENOSPC, EIO…); the temp file is removed
 */
export async function writeFileDurably (file: string, data: string | Uint8Array, options: DurableWriteOptions): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`
  try {
    const handle = await fs.open(temp, 'w', options.mode)
    try {
      await handle.writeFile(data)
      await handle.chmod(options.mode)
      await handle.sync()
    } finally {
      await handle.close()
    }
    // link() fails if the name exists, which gives create-only semantics without a window where a reader
    // could see a partly written file.
    if (options.exclusive === true) await fs.link(temp, file)
    else await fs.rename(temp, file)
  } finally {
    await fs.rm(temp, { force: true })
  }
  await fsyncDirectory(path.dirname(file))
}
