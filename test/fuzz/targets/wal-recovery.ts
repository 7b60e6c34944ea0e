/**
 * @module test/fuzz/targets/wal-recovery
 * FileStorage recovery over damaged data directories. Two base directories are written once by the real
 * FileStorage (small segments, a follower's overwritten suffix, a snapshot plus compaction, later hard
 * states) and kept in memory. An input is a damage program over a copy of one of them: 4-byte ops that
 * flip bits, zero 512-byte pages, truncate, append garbage, delete, swap or duplicate segments and
 * snapshot files, or duplicate a byte range. The copy is written to tmpfs and opened.
 *
 * Recovery either refuses with StorageCorruptionError, or returns a state that (1) is contiguous after
 * its snapshot, (2) is a log and a hard state the history really went through (a torn tail may take it
 * back in time; nothing invented, no mix of an overwritten entry and its replacement), (3) starts a
 * RawNode whose invariants hold, and (4) keeps working: one more append + sync, closed and reopened,
 * loads again with that entry.
 */
import fs from 'node:fs'
import path from 'node:path'
import { EntryType, RawNode, createPrng } from '../../../src/consensus/core/index.js'
import type { ConfState, Entry, HardState } from '../../../src/consensus/core/index.js'
import type { StorageState } from '../../../src/consensus/storage/types.js'
import { FileStorage } from '../../../src/consensus/storage/file-storage.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'
import { scratchDir } from '../scratch.js'

const CONF: ConfState = { voters: ['a', 'b', 'c'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
const PAGE_BYTES = 512
const OPS = 9

/** The files of one history, and every log and hard state it went through (a torn tail may go back to any). */
interface Base { files: Map<string, Buffer>, logs: Array<Map<number, Entry>>, hardStates: Set<string> }

let root: string | undefined
let bases: Base[] = []

const enc = new TextEncoder()
const entry = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: enc.encode(`entry ${index} of term ${term}`) })
const range = (from: number, to: number, term: number): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term))

/** Writes one history with the real FileStorage and returns its files and the final entry at each index. */
function buildBase (dir: string, withSnapshot: boolean): Base {
  const log = new Map<number, Entry>()
  const logs: Array<Map<number, Entry>> = [new Map()]
  const hardStates = new Set<string>([JSON.stringify({ term: 0, vote: null, commit: 0 })])
  // The base with snapshots pre-writes zeros after its records (as shipped, capped at its segment size);
  // the other is in the format before issue 16 (files end at their last record), so copies appended to a
  // file land right after its records.
  const storage = new FileStorage(dir, withSnapshot ? { segmentBytesMax: 1024 } : { segmentBytesMax: 64 * 1024, preallocateBytes: 0 })
  const append = (entries: Entry[]): void => {
    storage.append(entries)
    for (const index of [...log.keys()]) if (index >= (entries[0] as Entry).index) log.delete(index)
    for (const e of entries) log.set(e.index, e)
    logs.push(new Map(log))
  }
  const setHardState = (hs: { term: number, vote: string | null, commit: number }): void => {
    storage.setHardState(hs)
    hardStates.add(JSON.stringify(hs))
  }
  setHardState({ term: 1, vote: 'a', commit: 0 })
  append(range(1, 20, 1))
  setHardState({ term: 1, vote: 'a', commit: 12 })
  storage.sync()
  // A new leader overwrote 15..20 (never committed) with its own entries.
  setHardState({ term: 2, vote: 'b', commit: 12 })
  append(range(15, 22, 2))
  storage.sync()
  if (withSnapshot) {
    storage.saveSnapshot({ meta: { index: 10, term: 1, confState: CONF }, data: enc.encode('machine at 10') })
    storage.compact(10)
  }
  append(range(23, 40, 2))
  setHardState({ term: 2, vote: 'b', commit: 30 })
  storage.sync()
  if (withSnapshot) storage.saveSnapshot({ meta: { index: 25, term: 2, confState: CONF }, data: enc.encode('machine at 25') })
  storage.close()
  const files = new Map<string, Buffer>()
  for (const name of fs.readdirSync(dir).sort()) files.set(name, fs.readFileSync(path.join(dir, name)))
  return { files, logs, hardStates }
}

const segmentName = (n: number): string => `wal-${String(n).padStart(10, '0')}.log`

/** Applies one 4-byte damage op to the file map. */
function damage (files: Map<string, Buffer>, op: number, a: number, b: number, c: number): void {
  const names = [...files.keys()].sort()
  if (names.length === 0) return
  const name = names[a % names.length] as string
  const bytes = files.get(name) as Buffer
  const offset = bytes.length === 0 ? 0 : ((b << 8) | c) % bytes.length
  switch (op % OPS) {
    case 0: { const out = Buffer.from(bytes); if (out.length > 0) out[offset] = (out[offset] as number) ^ (1 << (a % 8)); files.set(name, out); break }
    case 1: { // zero one 512-byte page (a lost or never-written page)
      const out = Buffer.from(bytes)
      const start = (b % Math.max(1, Math.ceil(out.length / PAGE_BYTES))) * PAGE_BYTES
      out.fill(0, Math.min(start, out.length), Math.min(start + PAGE_BYTES, out.length))
      files.set(name, out)
      break
    }
    case 2: files.set(name, bytes.subarray(0, offset)); break
    case 3: { // duplicate a segment under a later (or earlier free) number
      const numbers = names.map((n) => /^wal-(\d{10})\.log$/.exec(n)?.[1]).filter((n): n is string => n !== undefined).map(Number)
      const target = c % 2 === 0 ? Math.max(0, ...numbers) + 1 + (b % 2) : Math.max(1, (numbers[0] ?? 1) - 1)
      if (!files.has(segmentName(target))) files.set(segmentName(target), bytes)
      break
    }
    case 4: files.delete(name); break
    case 5: { const other = names[b % names.length] as string; files.set(name, files.get(other) as Buffer); files.set(other, bytes); break }
    case 6: files.set(name, Buffer.concat([bytes, Buffer.alloc(1 + (b % 64), c)])); break
    case 7: { const length = 1 + (c % 128); files.set(name, Buffer.concat([bytes, bytes.subarray(offset, offset + length)])); break }
    default: files.set(name.endsWith('.snap') ? `${name}.tmp` : `snap-${String(c).padStart(16, '0')}.snap`, bytes)
  }
}

function write (dir: string, files: Map<string, Buffer>): void {
  for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { force: true })
  for (const [name, bytes] of files) fs.writeFileSync(path.join(dir, name), bytes)
}

const sameEntry = (a: Entry | undefined, b: Entry): boolean => a !== undefined && a.term === b.term && Buffer.from(a.data).equals(Buffer.from(b.data))

function checkState (state: StorageState, base: Base): void {
  const snapshotIndex = state.snapshot?.meta.index ?? 0
  state.entries.forEach((e, i) => {
    invariant(e.index === snapshotIndex + 1 + i, () => `entries not contiguous after the snapshot at ${snapshotIndex}: ${e.index} at position ${i}`)
  })
  // Recovery may lose an unsynced tail (it cannot tell it from a torn write), so any log the history went
  // through is acceptable; a mix of two (a resurrected overwritten entry next to its replacement) is not.
  invariant(base.logs.some((log) => state.entries.every((e) => sameEntry(log.get(e.index), e))),
    () => `recovered log ${state.entries.map((e) => `${e.index}@${e.term}`).join(',')} is no log the history went through`)
  // Or a written one whose term recovery raised to a later snapshot's (vote cleared): a crash between
  // saving an installed snapshot and the hard state of the same Ready (FileStorage.catchUpHardState).
  const { term, vote, commit } = state.hardState
  const caughtUp = term === state.snapshot?.meta.term && vote === null &&
    [...base.hardStates].some((h) => { const w = JSON.parse(h) as HardState; return w.term < term && w.commit === commit })
  invariant(base.hardStates.has(JSON.stringify(state.hardState)) || caughtUp, () => `recovered hard state ${JSON.stringify(state.hardState)} was never written`)
  const node = new RawNode({ id: 'a', electionTicks: 5, heartbeatTicks: 1, random: createPrng(1) }, state, CONF)
  node.checkInvariants()
}

export const walRecoveryTarget: FuzzTarget = {
  name: 'wal-recovery',
  description: 'damaged data dir (bit flips, zeroed pages, truncation, duplicated/missing/swapped segments and snapshots) → FileStorage.load',
  typedErrors: ['StorageCorruptionError'],
  async setup () {
    if (root !== undefined) return
    root = scratchDir('wal')
    fs.mkdirSync(path.join(root, 'base-0'))
    fs.mkdirSync(path.join(root, 'base-1'))
    fs.mkdirSync(path.join(root, 'work'))
    bases = [buildBase(path.join(root, 'base-0'), true), buildBase(path.join(root, 'base-1'), false)]
  },
  corpus: () => [Uint8Array.of(0), Uint8Array.of(1), Uint8Array.of(0, 2, 3, 0x10, 0x00), Uint8Array.of(0, 3, 2, 0, 0)],
  generate: (rng: FuzzRng) => Uint8Array.from([rng.int(2), ...Array.from({ length: 1 + rng.int(3) }, () => [rng.int(OPS), rng.int(256), rng.int(256), rng.int(256)]).flat()]),
  run (input) {
    invariant(root !== undefined, 'setup() not called')
    const base = bases[(input[0] ?? 0) % bases.length] as Base
    const files = new Map(base.files)
    for (let i = 1; i + 3 < input.length && i < 1 + 4 * 8; i += 4) damage(files, input[i] as number, input[i + 1] as number, input[i + 2] as number, input[i + 3] as number)
    const dir = path.join(root, 'work')
    write(dir, files)
    const storage = new FileStorage(dir, { segmentBytesMax: 1024 })
    const state = storage.load()
    checkState(state, base)
    const next = (state.entries[state.entries.length - 1]?.index ?? state.snapshot?.meta.index ?? 0) + 1
    const term = Math.max(state.hardState.term, state.entries[state.entries.length - 1]?.term ?? 0, 1)
    storage.append([entry(next, term)])
    storage.sync()
    storage.close()
    const reopened = new FileStorage(dir, { segmentBytesMax: 1024 })
    const again = reopened.load()
    reopened.close()
    invariant(again.entries.some((e) => e.index === next && e.term === term), () => `entry ${next} appended after recovery is gone after a reopen`)
  },
  close () {
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true })
    root = undefined
    bases = []
  }
}
