/**
 * @module node/data-dir-lock
 * One process per data dir (issue 10 item 1). Two nodes appending to one WAL would interleave records and
 * corrupt it, so `start` takes this lock before it reads or writes anything else in the data dir.
 *
 * The lock is a Linux abstract-namespace Unix socket named after the data dir's real path. The kernel
 * frees it when the process dies in any way (kill -9 included), so a stale lock cannot exist and no pid
 * liveness guess is needed; `bind` is atomic, so two racing starts cannot both win. The holder answers
 * every connection with its pid, which the loser prints. `revoada.lock` in the data dir records the holder's
 * pid and process start time for operators and catches a second start from another network namespace
 * (abstract sockets are per network namespace) while the first holder is alive.
 */
import net from 'node:net'
import { createHash } from 'node:crypto'
import { promises as fs, readFileSync } from 'node:fs'
import path from 'node:path'
import { writeFileDurably, fsyncDirectory } from '../util/durable-file.js'
import { DataDirInUseError } from './errors.js'

export { DataDirInUseError } from './errors.js'

/** File in the data dir naming the holder (informational; the socket is the lock). */
export const LOCK_FILE_NAME = 'revoada.lock'
/** How long a loser waits for the holder to say its pid. */
const HOLDER_PID_TIMEOUT_MS = 2000

/** A held data-dir lock. */
export interface DataDirLock {
  readonly dataDir: string
  /** Frees the lock and removes the lock file; idempotent. */
  release: () => Promise<void>
}

/**
 * Start time of process `pid` in clock ticks since boot (/proc/<pid>/stat field 22), or undefined when it is gone.
 * NB: a zombie is gone (its files, the lock's socket among them, are closed) though its stat stays until its
 * parent reaps it; counted live, a SIGKILLed node whose parent reaps late kept its data dir refused.
 */
function processStartTime (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start after the last ')': state first.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[0] === 'Z' ? undefined : fields[19]
  } catch {
    return undefined
  }
}

/** The abstract socket name of the lock on the data dir whose real path is `realDir`. */
export function socketName (realDir: string): string {
  return `\0revoada/data-dir/${createHash('sha256').update(realDir).digest('hex').slice(0, 40)}`
}

/** Asks the holder of `name` for its pid. */
async function askHolderPid (name: string): Promise<number | undefined> {
  return await new Promise((resolve) => {
    let text = ''
    const socket = net.connect({ path: name })
    const done = (pid: number | undefined): void => { socket.destroy(); clearTimeout(timer); resolve(pid) }
    const timer = setTimeout(() => done(undefined), HOLDER_PID_TIMEOUT_MS)
    socket.on('data', (chunk) => { text += chunk.toString() })
    socket.on('end', () => { const pid = Number.parseInt(text, 10); done(Number.isSafeInteger(pid) ? pid : undefined) })
    socket.on('error', () => done(undefined))
  })
}

/** The pid in an existing lock file when that process is still the one that wrote it. */
async function liveHolderFromFile (file: string): Promise<number | undefined> {
  let body: { pid?: unknown, startTime?: unknown }
  try {
    body = JSON.parse(await fs.readFile(file, 'utf8')) as typeof body
  } catch {
    return undefined
  }
  if (typeof body.pid !== 'number' || body.pid === process.pid) return undefined
  // A recycled pid has another start time: only the very process that wrote the file counts as live.
  const startTime = processStartTime(body.pid)
  return startTime !== undefined && startTime === body.startTime ? body.pid : undefined
}

async function listen (server: net.Server, name: string): Promise<boolean> {
  return await new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EADDRINUSE') resolve(false); else reject(err) })
    server.listen({ path: name }, () => resolve(true))
  })
}

/**
 * Takes the lock on `dataDir` (created with mode 0700 if missing).
 * @throws DataDirInUseError when a live process holds it
 */
export async function acquireDataDirLock (dataDir: string): Promise<DataDirLock> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 })
  const realDir = await fs.realpath(dataDir)
  const name = socketName(realDir)
  const server = net.createServer((socket) => {
    // A client gone before the answer (a loser that gave up, any local user: abstract sockets have no file
    // permissions) fails the write with EPIPE; unheard, that error would end this node.
    socket.on('error', () => {})
    socket.end(`${process.pid}\n`)
  })
  if (!await listen(server, name)) throw new DataDirInUseError(dataDir, await askHolderPid(name))
  server.unref()
  const file = path.join(realDir, LOCK_FILE_NAME)
  const close = async (): Promise<void> => { await new Promise<void>((resolve) => server.close(() => resolve())) }
  try {
    const other = await liveHolderFromFile(file)
    if (other !== undefined) throw new DataDirInUseError(dataDir, other)
    await writeFileDurably(file, JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }) + '\n', { mode: 0o600 })
  } catch (err) {
    await close()
    throw err
  }
  let released = false
  return {
    dataDir,
    release: async () => {
      if (released) return
      released = true
      await fs.rm(file, { force: true })
      await fsyncDirectory(realDir).catch(() => {})
      await close()
    }
  }
}

/**
 * What the data dir's lock says about a node process there, for commands that wait on one (`wait-ready`):
 * `live` while a process holds it (the socket answers, or, from another network namespace, the lock file's pid
 * is the very process that wrote it); `stale` when the lock file names a process that is gone, a node that died
 * without its clean-up (SIGKILL, a crash); `none` without a lock file: no node took the data dir, or it released
 * it. NB: `stale` is also what a start sees until it takes the lock, so a caller must not take it alone as death.
 */
export type DataDirLockProbe = { state: 'live', pid: number | undefined } | { state: 'stale', pid: number } | { state: 'none' }

/** Whether a process listens on the abstract socket `name` (a connection is accepted, even unanswered). */
async function socketHeld (name: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = net.connect({ path: name })
    const done = (held: boolean): void => { socket.destroy(); resolve(held) }
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** Probes the lock on `dataDir` without taking it (DataDirLockProbe). */
export async function probeDataDirLock (dataDir: string): Promise<DataDirLockProbe> {
  const realDir = await fs.realpath(dataDir).catch(() => undefined)
  if (realDir === undefined) return { state: 'none' }
  const file = path.join(realDir, LOCK_FILE_NAME)
  if (await socketHeld(socketName(realDir))) return { state: 'live', pid: await liveHolderFromFile(file) }
  const live = await liveHolderFromFile(file)
  if (live !== undefined) return { state: 'live', pid: live }
  let pid: unknown
  try {
    pid = (JSON.parse(await fs.readFile(file, 'utf8')) as { pid?: unknown }).pid
  } catch {
    return { state: 'none' }
  }
  return typeof pid === 'number' && Number.isSafeInteger(pid) ? { state: 'stale', pid } : { state: 'none' }
}
