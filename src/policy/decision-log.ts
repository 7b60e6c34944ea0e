/**
 * @module policy/decision-log
 * Every node's decision log (issue 12 item 4): the leader's own records and those heard on the decisions
 * gossip topic, numbered in arrival order (`n`), bounded (MAX_DECISIONS: when full, the sender holding the most
 * records gives up its oldest), persisted as JSON lines under the
 * data dir and read back on start (its end only, bounded), so the log outlives both the leader that made a decision and a restart
 * of the node that heard it. Waiters (`revoada decisions --follow`) are woken on every new record.
 *
 * NB: the file is appended without fsync: it is an audit trail, not state. A crash can lose its last
 * lines; what actually changed is in the committed log (and the attestation chain), which is durable.
 */
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from '../log/index.js'
import { assert } from '../util/assert.js'
import { readTailLines } from '../util/tail-lines.js'
import type { TailIo, TailLines } from '../util/tail-lines.js'
import { parseDecisionRecord, recordId } from './core/index.js'
import type { DecisionRecord } from './core/index.js'
import { DECISION_FILE_LINES_MAX, DECISION_FILE_READ_BYTES_MAX, DECISION_LINE_BYTES_MAX, DECISION_NUMBER_MAX, DECISION_WAITERS_MAX, MAX_DECISIONS } from './constants.js'

/** A record as this node holds it: `n` orders the log; `heardFrom` is who gossiped it ('' = made here). */
export interface LoggedDecision extends DecisionRecord {
  n: number
}

export class DecisionLog {
  private readonly records: LoggedDecision[] = []
  private readonly ids = new Set<string>()
  /** Records held per sender (`by`); a sender with none is not in it. */
  private readonly held = new Map<string, number>()
  private readonly waiters = new Set<() => void>()
  private fileLines = 0
  private nextN = 1

  /** `io`: how the file is read back on start (tests count the reads). @default node:fs */
  constructor (private readonly file: string, private readonly log: Logger, private readonly io?: TailIo) {}

  /**
   * Reads the file back from its end: at most its last DECISION_FILE_LINES_MAX lines and DECISION_FILE_READ_BYTES_MAX
   * bytes (an honest file holds fewer: it is rewritten at DECISION_FILE_LINES_MAX lines), so a file grown large (a
   * damaged disk, a copy, a bug) costs the start no more. Lines that are not a well-formed record are skipped and
   * counted. When the file held more than was read, the next record written rewrites it with the records kept.
   */
  load (): void {
    let tail: TailLines
    try {
      tail = readTailLines(this.file, { linesMax: DECISION_FILE_LINES_MAX, lineBytesMax: DECISION_LINE_BYTES_MAX, bytesMax: DECISION_FILE_READ_BYTES_MAX }, this.io)
    } catch (err) {
      // Missing is a first start. Anything else (a directory in its place, no permission) is said once: the node
      // keeps running with an empty log, and each failed write says so again (persist).
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT') this.log.warn({ file: this.file, code, err: (err as Error).message }, 'decision log: file unreadable, starting empty')
      try { mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 }) } catch { /* a file in its place: each write says so */ }
      return
    }
    let skipped = tail.longLines
    for (const line of tail.lines) {
      this.fileLines++
      let value: unknown
      try { value = JSON.parse(line) } catch { skipped++; continue }
      const record = parseDecisionRecord(value)
      // A line may hold any JSON: `null` read as a record's `n` was a TypeError that stopped the start.
      const n = typeof value === 'object' && value !== null ? (value as { n?: unknown }).n : undefined
      // A damaged line may still parse: a number out of order or past DECISION_NUMBER_MAX, or a second copy of a
      // record, is skipped like a torn one.
      if (record === null || typeof n !== 'number' || !Number.isSafeInteger(n) || n < this.nextN || n > DECISION_NUMBER_MAX || this.ids.has(recordId(record))) {
        skipped++
        continue
      }
      this.keep({ ...record, n })
      this.nextN = n + 1
    }
    // A torn last line after a crash is expected; anything else is worth a look.
    if (skipped > 0) this.log.warn({ file: this.file, skipped }, 'decision log: unreadable lines skipped')
    if (!tail.complete) {
      this.log.warn({ file: this.file, bytesRead: tail.bytesRead, lines: tail.lines.length }, 'decision log: file larger than a log keeps, read its end only')
      // The next write rewrites the file with the records kept, so the start after it reads a file of honest size.
      this.fileLines = DECISION_FILE_LINES_MAX
    }
  }

  /** Adds a record unless it is already here; returns it with its number, or null for a duplicate. */
  add (record: DecisionRecord): LoggedDecision | null {
    const id = recordId(record)
    if (this.ids.has(id)) return null
    assert(Number.isSafeInteger(this.nextN), 'record numbers stay distinct (load caps them at DECISION_NUMBER_MAX)')
    const logged = { ...record, n: this.nextN++ }
    this.keep(logged)
    this.persist(logged)
    for (const wake of [...this.waiters]) wake()
    return logged
  }

  /** Records numbered above `after`, oldest first, at most `limit`. */
  since (after: number, limit: number): LoggedDecision[] {
    return this.records.filter((r) => r.n > after).slice(0, limit)
  }

  /** The last `limit` records. */
  last (limit: number): LoggedDecision[] {
    return this.records.slice(-limit)
  }

  get lastN (): number {
    return this.nextN - 1
  }

  /** Resolves when a record numbered above `after` exists, or after `timeoutMs`. */
  async waitFor (after: number, timeoutMs: number): Promise<void> {
    if (this.lastN > after || this.waiters.size >= DECISION_WAITERS_MAX) return
    await new Promise<void>((resolve) => {
      const done = (): void => { clearTimeout(timer); this.waiters.delete(done); resolve() }
      const timer = setTimeout(done, timeoutMs)
      this.waiters.add(done)
    })
  }

  /** Wakes every waiter (the node is stopping). */
  close (): void {
    for (const wake of [...this.waiters]) wake()
  }

  private keep (record: LoggedDecision): void {
    this.records.push(record)
    this.ids.add(recordId(record))
    this.held.set(record.by, (this.held.get(record.by) ?? 0) + 1)
    while (this.records.length > MAX_DECISIONS) this.dropOne()
    assert(this.held.size <= this.records.length, 'a sender counted for every record held, none for none')
  }

  /**
   * Drops the oldest record of the sender holding the most (of those tied, the one whose oldest is oldest). Any
   * member may publish records in its own name: dropping the oldest of all let one member push every leader's
   * records out of every node's log; this way it pushes out its own, and each of k senders keeps its newest
   * records, MAX_DECISIONS / k of them at least (all it has, if fewer). With one sender it is the oldest record,
   * as before.
   */
  private dropOne (): void {
    let most = 0
    for (const count of this.held.values()) most = Math.max(most, count)
    const at = this.records.findIndex((r) => this.held.get(r.by) === most)
    assert(at >= 0, 'the sender holding the most has a record')
    const [dropped] = this.records.splice(at, 1) as [LoggedDecision]
    this.ids.delete(recordId(dropped))
    if (most === 1) this.held.delete(dropped.by)
    else this.held.set(dropped.by, most - 1)
  }

  private persist (record: LoggedDecision): void {
    try {
      if (this.fileLines >= DECISION_FILE_LINES_MAX) {
        const temp = `${this.file}.tmp`
        writeFileSync(temp, this.records.map((r) => JSON.stringify(r) + '\n').join(''), { mode: 0o600 })
        renameSync(temp, this.file)
        this.fileLines = this.records.length
        return
      }
      appendFileSync(this.file, JSON.stringify(record) + '\n', { mode: 0o600 })
      this.fileLines++
    } catch (err) {
      // Disk trouble must not stop the engine: the record stays in memory and the next write retries.
      this.log.warn({ file: this.file, err: (err as Error).message }, 'decision log: write failed')
    }
  }
}
