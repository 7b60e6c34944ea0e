/**
 * @module cli/progress
 * A one-line progress bar (bytes, rate, ETA) on a TTY's stderr, for `content add` and `content get`.
 * Not a TTY → silent, so scripts and pipes get clean output. The line is cut to the terminal's width, so
 * redrawing it with a carriage return never leaves wrapped lines behind.
 */
import { steadyNowMs } from '../util/clock.js'

const BAR_CELLS = 24
const REDRAW_MS = 100

export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++ }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit] as string}`
}

function formatDuration (seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`
}

/** The line for `done` of `total` bytes after `elapsedMs` (total 0 = unknown). */
export function progressLine (label: string, done: number, total: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0
  const known = total > 0
  const fraction = known ? Math.min(1, done / total) : 0
  const filled = Math.round(fraction * BAR_CELLS)
  const bar = known ? `[${'#'.repeat(filled)}${'.'.repeat(BAR_CELLS - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` : ''
  const eta = known && rate > 0 ? `  ETA ${formatDuration((total - done) / rate)}` : ''
  return `${label} ${bar}${formatBytes(done)}${known ? ` / ${formatBytes(total)}` : ''}  ${formatBytes(rate)}/s${eta}`
}

export interface Progress {
  update(done: number, total?: number): void
  finish(): void
}

/** Where the bar is drawn: a TTY stream (`isTTY`, `columns`) or anything else (then nothing is drawn). */
export type ProgressStream = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean, columns?: number }

export function createProgress (label: string, stream: ProgressStream = process.stderr, nowMs: () => number = steadyNowMs): Progress {
  if (stream.isTTY !== true) return { update: () => {}, finish: () => {} }
  const startedMs = nowMs()
  let lastDrawMs = Number.NEGATIVE_INFINITY
  let done = 0
  let total = 0
  const draw = (): void => {
    const line = progressLine(label, done, total, nowMs() - startedMs)
    const width = (stream.columns ?? 0) > 1 ? (stream.columns as number) - 1 : line.length
    stream.write(`\r\x1b[2K${line.slice(0, width)}`)
  }
  return {
    update (bytes, totalBytes) {
      done = bytes
      if (totalBytes !== undefined) total = totalBytes
      const now = nowMs()
      if (now - lastDrawMs >= REDRAW_MS) { lastDrawMs = now; draw() }
    },
    finish () { draw(); stream.write('\n') }
  }
}
