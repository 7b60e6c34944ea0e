/**
 * @module content/index-fs
 * The file operations under the store index (index.json and its journal), narrow so tests can count fsyncs
 * and fail or cut short any step. Production passes `nodeIndexFs`.
 */
import { promises as fs, constants as fsConstants } from 'node:fs'

export interface IndexFs {
  /** The whole file. @throws the fs error (ENOENT when there is none) */
  readFile: (file: string) => Promise<Buffer>
  /**
   * Writes all of `bytes` at the end of `file`, which must exist (a journal is never created by an append:
   * it would lack its header), then fdatasyncs it: durable once this resolves. One fsync per call.
   */
  append: (file: string, bytes: Uint8Array) => Promise<void>
  /** Writes `bytes` to a new file `file` (mode 0600) and fsyncs it. One fsync per call. */
  writeSynced: (file: string, bytes: Uint8Array) => Promise<void>
  rename: (from: string, to: string) => Promise<void>
  truncate: (file: string, length: number) => Promise<void>
  /** Removes `file`; nothing when there is none. */
  rm: (file: string) => Promise<void>
  /** fsyncs a directory, so names renamed into it survive a power cut. */
  syncDir: (dir: string) => Promise<void>
}

async function withHandle (file: string, flags: string | number, mode: number | undefined, use: (h: fs.FileHandle) => Promise<void>): Promise<void> {
  const handle = await fs.open(file, flags, mode)
  try {
    await use(handle)
  } finally {
    await handle.close()
  }
}

/** node:fs. A handle per call, not one held open: nothing to close when a store is dropped. */
export const nodeIndexFs: IndexFs = {
  readFile: async (file) => await fs.readFile(file),
  append: async (file, bytes) => {
    // O_APPEND without O_CREAT: a journal removed under a running store is an error, not a headerless file.
    await withHandle(file, fsConstants.O_WRONLY | fsConstants.O_APPEND, undefined, async (h) => {
      await h.writeFile(bytes)
      await h.datasync()
    })
  },
  writeSynced: async (file, bytes) => {
    await withHandle(file, 'w', 0o600, async (h) => {
      await h.writeFile(bytes)
      await h.sync()
    })
  },
  rename: async (from, to) => { await fs.rename(from, to) },
  truncate: async (file, length) => { await fs.truncate(file, length) },
  rm: async (file) => { await fs.rm(file, { force: true }) },
  syncDir: async (dir) => { await withHandle(dir, 'r', undefined, async (h) => { await h.sync() }) }
}
