/**
 * @module materializer/manifest-dir
 * The static-pod directory on disk (issue 15). Every write is atomic: a dot-prefixed temporary file in the
 * same directory, written in full and fdatasync'ed, renamed over the target, then the directory fsync'ed —
 * so kubelet (which ignores dot-files) never sees a partial manifest, and a kill -9 at any point leaves either
 * the old file or the new one. The names this node wrote are kept in a state file that always names a
 * superset of them (recorded before a write, forgotten after a removal), so a restart never leaves a stale
 * manifest behind and never deletes a file revoada did not write. The state also names the directory the
 * files are in: a name is only a name, and a state read against another directory (`manifestDir` changed
 * between two runs) would make a stranger's file there look like this node's, to be overwritten or removed.
 */
import { constants as fsConstants, promises as fs } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { STATE_FILE_NAME, TEMP_PREFIX } from './constants.js'
import { DiskFullError, MaterializerStateError } from './errors.js'
import type { Logger } from '../log/index.js'

/** What the state file holds. */
export interface MaterializerState {
  /**
   * The resolved manifest directory `files` are in. Undefined only in a state written by a build that did not
   * record it (see ManifestDir.loadState); every state this build writes names its directory.
   */
  manifestDir?: string
  /** Files in `manifestDir` that this node wrote: name → the role and template they came from. */
  files: Record<string, ManagedFile>
  /** This node's control-plane roles at the last reconcile. */
  roles: string[]
  /**
   * The roles whose promote and demote hooks have all run to their end (succeeded or given up): the next
   * start runs the hooks of the transitions from these to the roles then held, so a hook the node stopped
   * before it ended runs again and one that ended does not. Undefined, and not written, when equal to `roles`
   * (as in a state of a build before this one: it took the roles as acted on once their hooks were queued).
   */
  hookRoles?: string[]
}

/** What `ManifestDir.read` found. */
export interface DirReading {
  /** The bytes of each name that is a regular file. */
  files: Map<string, Uint8Array>
  /**
   * Names held by an entry that is not a regular file, or that cannot be read: name → why. Never read, written
   * over or removed: a conflict for that name, the other names managed as usual.
   */
  unreadable: Map<string, string>
}

export interface ManagedFile {
  role: string
  /**
   * The template's CID: its canonical text as this build records it, in any spelling in a state an older
   * build wrote. Compared as a CID (sameTemplateCid), never as text.
   */
  templateCid: string
}

async function fsyncDir (dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r')
  try { await handle.sync() } finally { await handle.close() }
}

/**
 * Writes `bytes` to `file` atomically (temp + fdatasync + rename + directory fsync). A write or rename that
 * fails removes the temporary file: a reconcile retries at every change and tick, and each failed rename left
 * one more file of the manifest's size in the manifest directory until the next start (`log` says so).
 * @throws DiskFullError when the disk is full (the temporary file removed), else the fs error
 */
export async function writeFileAtomic (file: string, bytes: Uint8Array, log?: Logger): Promise<void> {
  const dir = path.dirname(file)
  const temp = path.join(dir, `${TEMP_PREFIX}${path.basename(file)}.${randomBytes(4).toString('hex')}`)
  const handle = await fs.open(temp, 'wx', 0o644).catch((err: unknown) => { throw diskFull(err, file) })
  try {
    await handle.writeFile(bytes)
    await handle.datasync()
  } catch (err) {
    await handle.close().catch(() => {})
    await fs.rm(temp, { force: true })
    throw diskFull(err, file)
  }
  try {
    await handle.close()
    await fs.rename(temp, file)
  } catch (err) {
    await fs.rm(temp, { force: true }).catch(() => {})
    log?.warn({ file, temp, err: (err as Error).message }, 'materializer: a write failed before its rename landed; its temporary file removed')
    throw diskFull(err, file)
  }
  await fsyncDir(dir)
}

export class ManifestDir {
  /** The state file's text as this process last wrote it: an identical state is not written again. */
  private stateWritten: string | undefined
  /** The state write running or last run: the next one starts after it. */
  private stateQueue: Promise<void> = Promise.resolve()
  /** State files written (atomic writes: each a temporary file, fdatasync, rename and directory fsync). */
  stateWrites = 0
  /** Manifest files read from the directory (each an open, a read and a close). */
  filesRead = 0

  constructor (readonly dir: string, private readonly stateDir: string, private readonly log?: Logger) {}

  /** Creates the directories and deletes temporary files a crash left behind. */
  async open (): Promise<string[]> {
    await fs.mkdir(this.dir, { recursive: true })
    await fs.mkdir(this.stateDir, { recursive: true, mode: 0o700 })
    const leftovers = (await fs.readdir(this.dir)).filter((name) => name.startsWith(TEMP_PREFIX))
    for (const name of leftovers) await fs.rm(path.join(this.dir, name), { force: true })
    if (leftovers.length > 0) await fsyncDir(this.dir)
    return leftovers
  }

  /**
   * The state file as stored; its fields are taken leniently (an entry that is not one is dropped).
   * @throws MaterializerStateError when the file cannot be read, or is not a JSON object (a hand edit)
   */
  async readState (): Promise<MaterializerState> {
    const file = path.join(this.stateDir, STATE_FILE_NAME)
    let text: string
    try {
      text = await fs.readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { manifestDir: this.dir, files: {}, roles: [] }
      throw new MaterializerStateError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, this.dir, err)
    }
    let value: Record<string, unknown>
    try {
      value = stateObject(JSON.parse(text))
    } catch (err) {
      // NB: not taken as empty: the manifests this node wrote would look like strangers' files, never updated
      // or removed (a lost role's component left running), and every hook would run again.
      throw new MaterializerStateError(file, (err as Error).message, this.dir, err)
    }
    const files: Record<string, ManagedFile> = {}
    const stored = typeof value.files === 'object' && value.files !== null ? value.files as Record<string, unknown> : {}
    for (const [name, entry] of Object.entries(stored)) {
      const e = entry as Partial<ManagedFile> | null
      if (isPlainName(name) && typeof e?.role === 'string' && typeof e.templateCid === 'string') files[name] = { role: e.role, templateCid: e.templateCid }
    }
    const strings = (list: unknown): string[] | undefined => Array.isArray(list) ? list.filter((s): s is string => typeof s === 'string') : undefined
    const roles = strings(value.roles) ?? []
    const hookRoles = strings(value.hookRoles)
    const manifestDir = typeof value.manifestDir === 'string' ? value.manifestDir : undefined
    return { ...(manifestDir !== undefined ? { manifestDir } : {}), files, roles, ...(hookRoles !== undefined ? { hookRoles } : {}) }
  }

  /**
   * The state file as it applies to this directory: `state.files` names only files in `this.dir` that this
   * node wrote, and `disowned` the names the stored state listed that are not taken as ours here.
   * - A state of this directory is taken as it is.
   * - A state of another directory (`materializer.manifestDir` changed since it was written) manages nothing
   *   here: a file of the same name in this directory is someone else's until this node writes it. The files
   *   left in the old directory are not touched (a kubelet may still read it; the operator removes them).
   * - NB: a state without a directory was written by a build that did not record it, with whatever
   *   directory that build was configured with, which may or may not be this one (the default
   *   `<data-dir>/manifests` proves nothing: the old config may have named another). Neither trusting it
   *   whole (the auditor's overwrite) nor dropping it (this node's own manifests in an unchanged
   *   /etc/kubernetes/manifests would turn into conflicts, never updated or removed) is safe, so each name is
   *   adopted only if the file here carries the header revoada wrote for that entry (`carriesHeader`: role
   *   and template CID, the CID compared as a CID, whatever its spelling). An operator's own file of that name
   *   does not carry it.
   * Roles are kept in every case: they are this node's, not the directory's (they steer hooks).
   */
  async loadState (carriesHeader: (entry: ManagedFile, text: string) => boolean): Promise<{ state: MaterializerState, disowned: string[] }> {
    const stored = await this.readState()
    if (stored.manifestDir === this.dir) return { state: stored, disowned: [] }
    const state: MaterializerState = { manifestDir: this.dir, files: {}, roles: stored.roles, ...(stored.hookRoles !== undefined ? { hookRoles: stored.hookRoles } : {}) }
    if (stored.manifestDir !== undefined) return { state, disowned: Object.keys(stored.files).sort() }
    const disowned: string[] = []
    const onDisk = (await this.read(Object.keys(stored.files))).files
    const decoder = new TextDecoder()
    for (const [name, entry] of Object.entries(stored.files).sort(([a], [b]) => a < b ? -1 : 1)) {
      const bytes = onDisk.get(name)
      if (bytes !== undefined && carriesHeader(entry, decoder.decode(bytes))) state.files[name] = entry
      else disowned.push(name)
    }
    return { state, disowned }
  }

  /**
   * Writes the state file (naming this directory) unless this process last wrote exactly this state (then it
   * is on disk, durable). Writes run one at a time, each taking `state` as it is when its turn comes: the
   * hooks' end writes beside a reconcile, and an older state renamed over a newer one could drop the name
   * of a manifest just written.
   */
  async writeState (state: MaterializerState): Promise<void> {
    const turn = this.stateQueue.then(async () => { await this.writeStateNow(state) })
    this.stateQueue = turn.catch(() => {})
    await turn
  }

  private async writeStateNow (state: MaterializerState): Promise<void> {
    const files = Object.fromEntries(Object.entries(state.files).sort(([a], [b]) => a < b ? -1 : 1))
    const roles = [...state.roles].sort()
    const hookRoles = [...(state.hookRoles ?? state.roles)].sort()
    const sameRoles = roles.length === hookRoles.length && roles.every((role, i) => role === hookRoles[i])
    const text = JSON.stringify({ manifestDir: this.dir, files, roles, ...(sameRoles ? {} : { hookRoles }) }) + '\n'
    if (text === this.stateWritten) return
    this.stateWritten = undefined
    await writeFileAtomic(path.join(this.stateDir, STATE_FILE_NAME), new TextEncoder().encode(text), this.log)
    this.stateWritten = text
    this.stateWrites++
  }

  /**
   * Current bytes of each existing file among `names`, and the names held by something that cannot be read
   * as one. `known`: files whose bytes the caller knows (what its last clean reconcile left there); they are
   * taken from it instead of being read.
   */
  async read (names: Iterable<string>, known?: ReadonlyMap<string, Uint8Array>): Promise<DirReading> {
    const reading: DirReading = { files: new Map(), unreadable: new Map() }
    for (const name of new Set(names)) {
      const bytes = known?.get(name)
      if (bytes !== undefined) {
        reading.files.set(name, bytes)
        continue
      }
      this.filesRead++
      const found = await this.readFile(name)
      if (found instanceof Uint8Array) reading.files.set(name, found)
      else if (found !== undefined) reading.unreadable.set(name, found.why)
    }
    return reading
  }

  /**
   * The bytes of the regular file `name`; undefined when there is none; `why` for any other entry. NB: opened
   * non-blocking and checked before reading: a FIFO of that name made a plain read wait for a writer forever
   * (no reconcile ever ended again, nor the node's stop), and a directory failed every reconcile.
   */
  private async readFile (name: string): Promise<Uint8Array | { why: string } | undefined> {
    let handle: fs.FileHandle
    try {
      handle = await fs.open(path.join(this.dir, name), fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      return code === 'ENOENT' ? undefined : { why: `cannot be opened (${code ?? (err as Error).message})` }
    }
    try {
      if (!(await handle.stat()).isFile()) return { why: 'is not a regular file' }
      return new Uint8Array(await handle.readFile())
    } catch (err) {
      return { why: `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }
    } finally {
      await handle.close()
    }
  }

  async write (name: string, bytes: Uint8Array): Promise<void> {
    await writeFileAtomic(path.join(this.dir, name), bytes, this.log)
  }

  async remove (name: string): Promise<void> {
    await fs.rm(path.join(this.dir, name), { force: true })
    await fsyncDir(this.dir)
  }
}

/** A write's error: a full disk (ENOSPC, EDQUOT) as DiskFullError naming `file`, any other as it is. */
function diskFull (err: unknown, file: string): unknown {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOSPC' || code === 'EDQUOT' ? new DiskFullError(file, err) : err
}

/** The parsed state, if it is a JSON object. @throws Error saying what it is instead */
function stateObject (value: unknown): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>
  throw new Error(`not a JSON object but ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}`)
}

/** A file name with no path in it (state files are data from disk: trust nothing). */
function isPlainName (name: string): boolean {
  return name.length > 0 && name.length <= 255 && !name.includes('/') && !name.includes('\\') && name !== '.' && name !== '..'
}
