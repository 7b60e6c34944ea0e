/**
 * @module util/wall-clock
 * The node's wall clock: `Date.now()`, plus, for the fault suite only, an offset read from the file named
 * by `RVD_FAULTS_CLOCK_OFFSET_FILE` (whole milliseconds, re-read at most every CLOCK_FILE_RECHECK_MS), so a
 * test can step one process's clock forwards or backwards without touching the host clock. Unset in
 * production: then this is exactly Date.now(). (Not a REVOADA_* name: the config loader owns those.)
 */
import { readFileSync } from 'node:fs'

const CLOCK_FILE_RECHECK_MS = 200
const offsetFile = process.env.RVD_FAULTS_CLOCK_OFFSET_FILE
let offsetMs = 0
let checkedAtMs = -Infinity

function currentOffsetMs (realMs: number): number {
  if (offsetFile === undefined || offsetFile === '') return 0
  if (realMs - checkedAtMs >= CLOCK_FILE_RECHECK_MS || realMs < checkedAtMs) {
    checkedAtMs = realMs
    try {
      const value = Number.parseInt(readFileSync(offsetFile, 'utf8'), 10)
      offsetMs = Number.isSafeInteger(value) ? value : 0
    } catch {
      offsetMs = 0
    }
  }
  return offsetMs
}

/** Milliseconds since the epoch as this node's wall clock says. */
export function wallClockMs (): number {
  const realMs = Date.now()
  return realMs + currentOffsetMs(realMs)
}
