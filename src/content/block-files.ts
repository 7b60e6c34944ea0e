/**
 * @module content/block-files
 * The blocks of the content store on disk (docs/CONTENT.md §3), `<data-dir>/content/`:
 *
 * - `blocks/<hh>/<64 hex>`: one file per block (chunk or manifest), named by its BLAKE3 digest.
 *   A block is verified against its digest before it is written (tmp file, then rename) and again when it
 *   is read, so neither a lying peer nor a disk that returns garbage can make us serve or output wrong bytes
 *   (a block that fails the read check is deleted and fetched again). A fetched block is not fsynced: it
 *   can be fetched again, and a torn block fails its check. An added block is (`durable`): this node may
 *   hold the only copy, and the record that says it is complete is durable once the add answers.
 * - `tmp/`: files being written; emptied at open.
 *
 * Usage is the sum of block sizes and never exceeds the quota: space is reserved before a write and given
 * back if the write fails. A full disk is a DiskFullError and leaves no partial file behind.
 */
import { promises as fs, mkdirSync, readdirSync, statSync, rmSync } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { blake3, equalBytes } from '../codec/index.js'
import type { Logger } from '../log/index.js'
import { BlockReadError, ChunkVerificationError, InvalidCidError, QuotaExceededError, isBlockCid } from './core/index.js'
import { errorMessage } from './errors-io.js'
import { writeError } from './disk-error.js'
import { assert } from '../util/assert.js'

export interface BlockFilesInit {
  /** The store's directory, `<data-dir>/content/`: blocks go in `blocks/`, files being written in `tmp/`. */
  dir: string
  quotaBytes: number
  log: Logger
  /** Called whenever a block is forgotten: deleted, or found gone when read. */
  onForget: () => void
  /** The file operations of a block write (tests record their order). @default nodeBlockFs */
  fs?: BlockFs
}

/** The file operations of a block write, narrow so tests can see what is synced before what. */
export interface BlockFs {
  /** Writes `bytes` to the new file `file` (mode 0600), fsynced before this resolves when `sync`. */
  writeFile: (file: string, bytes: Uint8Array, sync: boolean) => Promise<void>
  rename: (from: string, to: string) => Promise<void>
  /** Creates `dir` (mode 0700), its parents too; nothing when it exists. */
  mkdir: (dir: string) => Promise<void>
  /** fsyncs a file or a directory (the names renamed into it survive a power cut). */
  sync: (file: string) => Promise<void>
}

export const nodeBlockFs: BlockFs = {
  writeFile: async (file, bytes, sync) => {
    const handle = await fs.open(file, 'w', 0o600)
    try {
      await handle.writeFile(bytes)
      if (sync) await handle.sync()
    } finally {
      await handle.close()
    }
  },
  rename: async (from, to) => { await fs.rename(from, to) },
  mkdir: async (dir) => { await fs.mkdir(dir, { recursive: true, mode: 0o700 }) },
  sync: async (file) => {
    const handle = await fs.open(file, 'r')
    try { await handle.sync() } finally { await handle.close() }
  }
}

/** The key of a block: its digest in hex, as its file is named. */
export function digestHex (digest: Uint8Array): string {
  return Buffer.from(digest).toString('hex')
}

/** The block files under `blocks/`, their sizes and the usage they add up to. Keys are `digestHex`. */
export class BlockFiles {
  readonly blocksDir: string
  readonly tmpDir: string
  /** digest hex → bytes on disk. Invariant: usedBytes === Σ sizes + reserved. */
  private readonly sizes = new Map<string, number>()
  /** Block prefix directories known to exist (we never remove one): one mkdir each, not one per block. */
  private readonly prefixDirs = new Set<string>()
  private used = 0
  /** Blocks whose read-back check failed (disk corruption), for status. */
  private corrupt = 0
  /**
   * Set by `open()`. Before it the sizes are not scanned yet: a block held on disk reads as absent and usage as
   * 0, so a put could pass the quota and a gc round would see nothing to collect. Every call that reads them
   * asserts it (a programmer error: ContentStore.open opens first).
   */
  private opened = false

  private readonly fs: BlockFs

  constructor (private readonly init: BlockFilesInit) {
    this.blocksDir = path.join(init.dir, 'blocks')
    this.tmpDir = path.join(init.dir, 'tmp')
    this.fs = init.fs ?? nodeBlockFs
  }

  /** Creates the directories, empties `tmp/` and scans the blocks held. Once, before any other call. */
  open (): void {
    assert(!this.opened, () => `block files in ${this.init.dir} opened twice`)
    mkdirSync(this.blocksDir, { recursive: true, mode: 0o700 })
    rmSync(this.tmpDir, { recursive: true, force: true })
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 })
    this.scan()
    this.opened = true
  }

  private assertOpen (call: string): void {
    assert(this.opened, () => `block files in ${this.init.dir}: ${call} before open()`)
  }

  private scan (): void {
    for (const prefix of readdirSync(this.blocksDir)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue
      this.prefixDirs.add(path.join(this.blocksDir, prefix))
      for (const name of readdirSync(path.join(this.blocksDir, prefix))) {
        if (!/^[0-9a-f]{64}$/.test(name) || !name.startsWith(prefix)) continue
        const size = statSync(path.join(this.blocksDir, prefix, name)).size
        this.sizes.set(name, size)
        this.used += size
      }
    }
  }

  private blockPath (hex: string): string {
    return path.join(this.blocksDir, hex.slice(0, 2), hex)
  }

  /**
   * Moves a written block to its place, creating its prefix directory once (again if it was removed); `durable`:
   * the rename is fsynced (the prefix directory, and `blocks/` when the prefix directory is new).
   */
  private async renameIntoPrefixDir (tmp: string, target: string, durable: boolean): Promise<void> {
    const dir = path.dirname(target)
    if (this.prefixDirs.has(dir)) {
      try {
        await this.fs.rename(tmp, target)
        if (durable) await this.fs.sync(dir)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        this.prefixDirs.delete(dir)
      }
    }
    await this.fs.mkdir(dir)
    if (durable) await this.fs.sync(this.blocksDir)
    this.prefixDirs.add(dir)
    await this.fs.rename(tmp, target)
    if (durable) await this.fs.sync(dir)
  }

  /** Whether the block whose key is `hex` is held. */
  has (hex: string): boolean {
    this.assertOpen('has')
    return this.sizes.has(hex)
  }

  /** The size of a held block, undefined when it is not held. */
  bytes (hex: string): number | undefined {
    this.assertOpen('bytes')
    return this.sizes.get(hex)
  }

  /** The keys of the blocks held. */
  keys (): IterableIterator<string> {
    this.assertOpen('keys')
    return this.sizes.keys()
  }

  get usedBytes (): number {
    this.assertOpen('usedBytes')
    return this.used
  }

  get quotaBytes (): number { return this.init.quotaBytes }
  get corruptBlocks (): number { return this.corrupt }

  /**
   * Verifies `bytes` against `cid` and stores them (no-op when already held). `durable`: the block is on disk
   * for good when this resolves (the file and its name fsynced), one held already too (a fetch wrote it unsynced).
   * @throws ChunkVerificationError, QuotaExceededError, DiskFullError — nothing is written in any of them
   */
  async put (cid: CID, bytes: Uint8Array, options: { durable?: boolean } = {}): Promise<void> {
    this.assertOpen('put')
    if (!isBlockCid(cid)) throw new InvalidCidError(`${cid.toString()} is not a BLAKE3 block CID`)
    if (!equalBytes(blake3(bytes), cid.multihash.digest)) throw new ChunkVerificationError(`bytes do not match ${cid.toString()}`)
    const hex = digestHex(cid.multihash.digest)
    const durable = options.durable === true
    if (this.sizes.has(hex) && (!durable || await this.syncHeld(hex))) return
    if (this.used + bytes.length > this.init.quotaBytes) {
      throw new QuotaExceededError(`storing ${bytes.length} bytes would exceed the content quota (${this.used} of ${this.init.quotaBytes} bytes used)`)
    }
    this.used += bytes.length
    const tmp = path.join(this.tmpDir, `${hex}.${randomBytes(4).toString('hex')}`)
    try {
      await this.fs.writeFile(tmp, bytes, durable)
      await this.renameIntoPrefixDir(tmp, this.blockPath(hex), durable)
    } catch (err) {
      this.used -= bytes.length
      await fs.rm(tmp, { force: true }).catch(() => {})
      throw writeError(err, `storing ${cid.toString()} in ${this.init.dir}`)
    }
    if (this.sizes.has(hex)) this.used -= bytes.length // a concurrent write of the same block won
    else this.sizes.set(hex, bytes.length)
  }

  /** fsyncs a held block and its name; false when its file is gone (then it is forgotten, to be stored again). */
  private async syncHeld (hex: string): Promise<boolean> {
    const file = this.blockPath(hex)
    try {
      await this.fs.sync(file)
      await this.fs.sync(path.dirname(file))
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw writeError(err, `syncing ${file}`)
      this.forget(hex)
      return false
    }
  }

  /**
   * The block's bytes, verified; null when absent, found gone, or when it failed its check (then it is deleted).
   * @throws BlockReadError when the file is there but cannot be read (EMFILE, EIO): the block stays held
   */
  async read (cid: CID): Promise<Uint8Array | null> {
    this.assertOpen('read')
    const hex = digestHex(cid.multihash.digest)
    if (!this.sizes.has(hex)) return null
    let bytes: Uint8Array
    try {
      bytes = await fs.readFile(this.blockPath(hex))
    } catch (err) {
      // NB: only a file gone is a block gone. Forgotten on any error, as before, a transient EMFILE made a
      // complete object unreadable until a restart, and a gc round then deleted what its manifest names.
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT') throw new BlockReadError(`block ${cid.toString()} is held but could not be read (${code ?? errorMessage(err)})`)
      this.forget(hex)
      return null
    }
    if (!equalBytes(blake3(bytes), cid.multihash.digest)) {
      this.corrupt++
      this.init.log.error({ cid: cid.toString() }, 'a stored block failed its BLAKE3 check (disk corruption?); deleted, it will be fetched again')
      await this.delete(hex)
      return null
    }
    return bytes
  }

  private forget (hex: string): void {
    const size = this.sizes.get(hex)
    if (size === undefined) return
    this.sizes.delete(hex)
    this.used -= size
    this.init.onForget()
  }

  /** Forgets the block whose key is `hex` and deletes its file. */
  async delete (hex: string): Promise<void> {
    this.assertOpen('delete')
    this.forget(hex)
    await fs.rm(this.blockPath(hex), { force: true })
  }
}
