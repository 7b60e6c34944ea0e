/**
 * @module util/tail-lines
 * The last lines of a text file, read from its end a chunk at a time, so a file of any size costs at most
 * `bytesMax` of reading and memory: the decision log is read back on start (policy/decision-log.ts) and needs
 * only its last records, and a file grown by a damaged disk, a bug or an operator's copy was read whole before.
 * A line longer than `lineBytesMax` is skipped (counted) without being held. IO comes in through `TailIo`, so a
 * test can count what is read.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { assert } from './assert.js'

/** The file operations the reader uses (node:fs by default). */
export interface TailIo {
  openSync: (file: string, flags: 'r') => number
  fstatSync: (fd: number) => { size: number }
  readSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => number
  closeSync: (fd: number) => void
}

export const NODE_TAIL_IO: TailIo = { openSync, fstatSync, readSync, closeSync }

export interface TailLimits {
  /** Non-blank lines returned at most (the last ones). */
  linesMax: number
  /** Longest line kept (bytes, without its newline); longer ones are skipped and counted. */
  lineBytesMax: number
  /** Bytes read at most, from the end. */
  bytesMax: number
  /** Bytes per read. @default 64 KiB */
  chunkBytes?: number
}

export interface TailLines {
  /** The last non-blank lines, in file order. */
  lines: string[]
  /** Lines skipped for being longer than lineBytesMax. */
  longLines: number
  /** Whether every line of the file was looked at (false: the limits stopped the read before its start). */
  complete: boolean
  /** Bytes read. */
  bytesRead: number
}

const NEWLINE = 0x0a

/**
 * The last lines of `file` within `limits`.
 * @throws the file system's error when the file cannot be opened or read (ENOENT, EISDIR, EACCES…)
 */
export function readTailLines (file: string, limits: TailLimits, io: TailIo = NODE_TAIL_IO): TailLines {
  const chunkBytes = limits.chunkBytes ?? 64 * 1024
  assert(limits.linesMax >= 1 && limits.lineBytesMax >= 1 && limits.bytesMax >= 1 && chunkBytes >= 1, 'tail limits are positive')
  const fd = io.openSync(file, 'r')
  try {
    return readBackwards(fd, io.fstatSync(fd).size, { ...limits, chunkBytes }, io)
  } finally {
    io.closeSync(fd)
  }
}

function readBackwards (fd: number, size: number, limits: Required<TailLimits>, io: TailIo): TailLines {
  const backwards: string[] = []
  let longLines = 0
  // The line being put together, its pieces last first; dropped (and `long` set) once it outgrows lineBytesMax.
  let pieces: Uint8Array[] = []
  let pieceBytes = 0
  let long = false
  let position = size
  let bytesRead = 0
  const endLine = (head: Uint8Array): void => {
    if (long || head.length + pieceBytes > limits.lineBytesMax) longLines++
    else {
      const text = Buffer.concat([head, ...pieces.reverse()]).toString('utf8')
      if (text.trim() !== '') backwards.push(text)
    }
    pieces = []
    pieceBytes = 0
    long = false
  }
  while (position > 0 && backwards.length < limits.linesMax && bytesRead < limits.bytesMax) {
    const length = Math.min(limits.chunkBytes, position, limits.bytesMax - bytesRead)
    const chunk = new Uint8Array(length)
    let filled = 0
    while (filled < length) {
      const n = io.readSync(fd, chunk, filled, length - filled, position - length + filled)
      if (n === 0) break
      filled += n
    }
    // A file cut shorter while it is read: what was read is still a tail of what it was.
    assert(filled <= length, 'a read returns no more than asked')
    position -= length
    bytesRead += length
    let end = filled
    for (let at = filled - 1; at >= 0 && backwards.length < limits.linesMax; at--) {
      if (chunk[at] !== NEWLINE) continue
      endLine(chunk.subarray(at + 1, end))
      end = at
    }
    if (backwards.length >= limits.linesMax) return { lines: backwards.reverse(), longLines, complete: false, bytesRead }
    if (!long) {
      pieces.push(chunk.subarray(0, end))
      pieceBytes += end
      if (pieceBytes > limits.lineBytesMax) { long = true; pieces = []; pieceBytes = 0 }
    }
  }
  const complete = position === 0
  // The file's first line (no newline before it) is whole only when the read reached the start.
  if (complete && (pieceBytes > 0 || long)) endLine(new Uint8Array(0))
  assert(backwards.length <= limits.linesMax, 'no more lines than asked')
  return { lines: backwards.reverse(), longLines, complete, bytesRead }
}
