/**
 * @module test/consensus/storage/power-cut-fs
 * An in-memory StorageFs that models what a power cut keeps (issue 10 item 5), unlike SIGKILL, which
 * keeps the OS page cache:
 *
 * - file data survives only as of the last fdatasync/fsync of that file; of the bytes changed after it
 *   (appended, or overwritten in place: a WAL segment's pre-written zeros), a random prefix from the
 *   first changed byte may survive (a torn tail), the rest is lost (unsynced size changes too);
 * - a name (create, rename, unlink) survives only once its directory was fsynced; until then the
 *   directory reverts to its last fsynced listing. Directories are names too: one made (mkdirSync) survives,
 *   with everything in it, only once its parent was fsynced after; the root `/` always survives.
 *
 * `cutAfterOps` makes the N-th mutating call fail (EIO) and every call after it, as if the machine had
 * lost power at that instant; `powerCut()` then reverts the disk to what survives, and a new FileStorage
 * opens it as a rebooted node would.
 */
import path from 'node:path'
import type { StorageFs } from '../../../src/consensus/storage/storage-fs.js'

/** `dirtyFrom`: the lowest byte offset changed since the last sync (undefined: nothing changed). */
interface Inode { data: Buffer, durable: Buffer, dirtyFrom?: number }
interface Handle { file: string, inode?: Inode, dir?: string }

const errno = (code: string, what: string): Error => Object.assign(new Error(`${code}: ${what}`), { code })

export class PowerCutFs implements StorageFs {
  private names = new Map<string, Inode>()
  private durableNames = new Map<string, Inode>()
  private dirs = new Set<string>(['/'])
  private durableDirs = new Set<string>(['/'])
  private readonly handles = new Map<number, Handle>()
  private nextFd = 3
  /** Mutating calls so far. */
  ops = 0
  /** The mutating call with this number (1-based) and all later ones fail: the power is off. */
  cutAfterOps: number | undefined
  dead = false

  private mutate (what: string): void {
    if (this.dead) throw errno('EIO', `power is off (${what})`)
    this.ops++
    if (this.cutAfterOps !== undefined && this.ops >= this.cutAfterOps) {
      this.dead = true
      throw errno('EIO', `power cut at op ${this.ops} (${what})`)
    }
  }

  /** Reverts to what a power cut keeps; `random` in [0, 1) picks how much of each unsynced tail survives. */
  powerCut (random: () => number): void {
    const survives = (dir: string): boolean => dir === '/' || (this.durableDirs.has(dir) && survives(path.dirname(dir)))
    this.durableDirs = new Set([...this.durableDirs].filter(survives))
    this.dirs = new Set(this.durableDirs)
    this.durableNames = new Map([...this.durableNames].filter(([name]) => this.dirs.has(path.dirname(name))))
    this.names = new Map(this.durableNames)
    for (const inode of new Set(this.names.values())) {
      const from = inode.dirtyFrom
      const changed = from === undefined ? 0 : Math.max(0, inode.data.length - from)
      const kept = changed > 0 && random() < 0.5 ? Math.floor(random() * changed) : 0
      const survived = Buffer.alloc(Math.max(inode.durable.length, (from ?? 0) + kept))
      inode.durable.copy(survived)
      if (from !== undefined) inode.data.copy(survived, from, from, from + kept)
      inode.data = survived
      inode.durable = Buffer.from(survived)
      delete inode.dirtyFrom
    }
    this.handles.clear()
    this.dead = false
    this.cutAfterOps = undefined
  }

  mkdirSync (dir: string): string | undefined {
    const missing: string[] = []
    for (let d = path.resolve(dir); !this.dirs.has(d); d = path.dirname(d)) missing.push(d)
    if (missing.length === 0) return undefined
    this.mutate(`mkdir ${dir}`)
    for (const d of missing) this.dirs.add(d)
    return missing.at(-1)
  }

  readdirSync (dir: string): string[] {
    if (!this.dirs.has(dir)) throw errno('ENOENT', dir)
    return [...this.names.keys()].filter((f) => path.dirname(f) === dir).map((f) => path.basename(f))
  }

  readFileSync (file: string): Buffer {
    const inode = this.names.get(file)
    if (inode === undefined) throw errno('ENOENT', file)
    return Buffer.from(inode.data)
  }

  openSync (file: string, flags: 'a' | 'w' | 'r' | 'r+'): number {
    const fd = this.nextFd++
    if (flags === 'r' && this.dirs.has(file)) {
      this.handles.set(fd, { file, dir: file })
      return fd
    }
    let inode = this.names.get(file)
    if ((flags === 'r' || flags === 'r+') && inode === undefined) throw errno('ENOENT', file)
    if (!this.dirs.has(path.dirname(file))) throw errno('ENOENT', path.dirname(file))
    if (flags !== 'r') {
      this.mutate(`open ${file}`)
      if (inode === undefined) { inode = { data: Buffer.alloc(0), durable: Buffer.alloc(0) }; this.names.set(file, inode) }
      if (flags === 'w') { inode.data = Buffer.alloc(0); this.changed(inode, 0) }
    }
    this.handles.set(fd, { file, ...(inode !== undefined ? { inode } : {}) })
    return fd
  }

  private inodeOf (fd: number): Inode {
    const inode = this.handles.get(fd)?.inode
    if (inode === undefined) throw errno('EBADF', String(fd))
    return inode
  }

  private changed (inode: Inode, from: number): void {
    inode.dirtyFrom = Math.min(inode.dirtyFrom ?? from, from)
  }

  /** Writes at `position`, or at the end ('a' handles are only used to append; null means the end here). */
  writeSync (fd: number, buffer: Buffer, offset: number, length: number, position: number | null): number {
    this.mutate('write')
    const inode = this.inodeOf(fd)
    const at = position ?? inode.data.length
    const bytes = buffer.subarray(offset, offset + length)
    if (at + bytes.length > inode.data.length) {
      const grown = Buffer.alloc(at + bytes.length)
      inode.data.copy(grown)
      inode.data = grown
    }
    bytes.copy(inode.data, at)
    this.changed(inode, Math.min(at, inode.durable.length))
    return length
  }

  fdatasyncSync (fd: number): void { this.fsyncSync(fd) }

  fsyncSync (fd: number): void {
    this.mutate('fsync')
    const handle = this.handles.get(fd)
    if (handle?.dir !== undefined) {
      const dir = handle.dir
      for (const name of [...this.durableNames.keys()]) if (path.dirname(name) === dir) this.durableNames.delete(name)
      for (const [name, inode] of this.names) if (path.dirname(name) === dir) this.durableNames.set(name, inode)
      for (const d of this.dirs) if (d !== dir && path.dirname(d) === dir) this.durableDirs.add(d)
      return
    }
    const inode = this.inodeOf(fd)
    inode.durable = Buffer.from(inode.data)
    delete inode.dirtyFrom
  }

  ftruncateSync (fd: number, length: number): void {
    this.mutate('ftruncate')
    const inode = this.inodeOf(fd)
    inode.data = Buffer.from(inode.data.subarray(0, length))
    this.changed(inode, length)
  }

  fstatSizeSync (fd: number): number { return this.inodeOf(fd).data.length }

  closeSync (fd: number): void { this.handles.delete(fd) }

  truncateSync (file: string, length: number): void {
    this.mutate('truncate')
    const inode = this.names.get(file)
    if (inode === undefined) throw errno('ENOENT', file)
    inode.data = Buffer.from(inode.data.subarray(0, length))
    this.changed(inode, length)
  }

  renameSync (from: string, to: string): void {
    this.mutate('rename')
    const inode = this.names.get(from)
    if (inode === undefined) throw errno('ENOENT', from)
    this.names.delete(from)
    this.names.set(to, inode)
  }

  rmSync (file: string): void {
    this.mutate('rm')
    this.names.delete(file)
  }
}
