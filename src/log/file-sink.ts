/**
 * @module log/file-sink
 * The destination of `--log-file`: appends each line to a file an operator rotates and whose disk may fill.
 * - `reopen()` (the node calls it on SIGHUP, after logrotate renamed the file) opens the path again and
 *   writes there from then on; the renamed file is closed.
 * - A write that fails (ENOSPC, EIO) drops its line and the sink stays open. The fs.WriteStream used before
 *   destroyed itself on its first error, so a disk full for a moment silenced the log for the rest of the
 *   process's life. The first failure of a run of them says so on stderr; the first line written afterwards
 *   is preceded by one saying how many lines were lost, and why.
 * Writes are synchronous, as pino's own file destination and Node's stderr to a file are: lines stay in order,
 * none is left in a queue when the process exits, and a reopen never races a write in flight.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { Writable } from 'node:stream'
import { formatLogLine } from './format.js'
import type { LogFormat } from './levels.js'

const FILE_MODE = 0o600

/** The file calls the sink makes (tests fail them on purpose). */
export interface LogFileIo {
  openSync: (file: string, flags: 'a', mode: number) => number
  writeSync: (fd: number, data: Buffer, offset: number, length: number) => number
  closeSync: (fd: number) => void
}

const NODE_FILE_IO: LogFileIo = { openSync, writeSync, closeSync }
/** pino's numeric levels of the sink's own lines. */
const LEVEL_INFO = 30
const LEVEL_WARN = 40

export class LogFileSink extends Writable {
  private fd: number
  /** Lines lost since the last write that succeeded, and the error that lost the first of them. */
  private dropped = 0
  private dropError: string | undefined
  /** A failed write may have left part of a line: the next write begins on a new line. */
  private torn = false

  /**
   * Opens (creates, mode 0600) `file` for appending.
   * @throws the open's error (ENOENT, EACCES, EISDIR …): the start fails with it
   */
  constructor (readonly file: string, private readonly format: LogFormat = 'json', private readonly io: LogFileIo = NODE_FILE_IO) {
    super({ decodeStrings: true })
    this.fd = io.openSync(file, 'a', FILE_MODE)
  }

  /** Lines dropped since the last successful write (0 while writing works). */
  get droppedLines (): number {
    return this.dropped
  }

  /**
   * Opens the path again and writes there from now on (the old file, renamed by a log rotation, is closed).
   * When the path cannot be opened the sink keeps writing to the old file and says why in it.
   */
  reopen (): void {
    let fd: number
    try {
      fd = this.io.openSync(this.file, 'a', FILE_MODE)
    } catch (err) {
      this.writeLine(this.ownLine(LEVEL_WARN, 'log file not reopened: writing on to the file already open', { file: this.file, err: (err as Error).message }))
      return
    }
    const old = this.fd
    this.fd = fd
    try { this.io.closeSync(old) } catch { /* already gone: nothing to keep */ }
    this.torn = false
    this.writeLine(this.ownLine(LEVEL_INFO, 'log file reopened', { file: this.file }))
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeLine(chunk)
    // Never an error: a failing disk must not end the stream (every later line would be lost).
    callback()
  }

  override _final (callback: (error?: Error | null) => void): void {
    try { this.io.closeSync(this.fd) } catch { /* closing is all that is left to do */ }
    callback()
  }

  private writeLine (line: Buffer | string): void {
    const data = typeof line === 'string' ? Buffer.from(line) : line
    if (this.dropped > 0 || this.torn) {
      const prefix = (this.torn ? '\n' : '') + (this.dropped > 0
        ? this.ownLine(LEVEL_WARN, 'log lines lost while the log file could not be written', { lines: this.dropped, err: this.dropError })
        : '')
      if (!this.writeAll(Buffer.from(prefix))) { this.drop(); return }
      this.torn = false
      this.dropped = 0
      this.dropError = undefined
    }
    if (!this.writeAll(data)) this.drop()
  }

  /** Writes all of `data`; false (with `dropError` set) when a write failed. */
  private writeAll (data: Buffer): boolean {
    let offset = 0
    try {
      while (offset < data.length) offset += this.io.writeSync(this.fd, data, offset, data.length - offset)
      return true
    } catch (err) {
      if (offset > 0) this.torn = true
      if (this.dropError === undefined) {
        this.dropError = (err as NodeJS.ErrnoException).code ?? (err as Error).message
        process.stderr.write(`revoada: cannot write the log file ${this.file} (${this.dropError}); log lines are dropped until it can be written again\n`)
      }
      return false
    }
  }

  private drop (): void {
    this.dropped++
  }

  /** A line of the sink's own, in the file's format. */
  private ownLine (level: number, msg: string, fields: Record<string, unknown>): string {
    const json = JSON.stringify({ level, time: Date.now(), pid: process.pid, component: 'revoada:log', msg, ...fields })
    return (this.format === 'pretty' ? formatLogLine(json) : json) + '\n'
  }
}
