/**
 * @module test/fuzz/targets/content-index
 * ContentStore.open over damaged content directories (docs/CONTENT.md §3). Two bases are written once by the
 * real ContentStore (files and a directory added, a partial fetch record, pins, unpins, touches, a gc round
 * that drops records and deletes their blocks) and kept in memory: one whose journal was never folded
 * (index.json holds the first record, the journal every change since), one folded at a checkpoint midway,
 * with frames after it and its pre-fold journal kept for the "stop between the steps of a fold" damage. An
 * input is a damage program over a copy of one base (content-index-damage.ts), written to tmpfs and opened.
 *
 * Opening either throws StoreJournalCorruptError, logged as an error, or returns a store whose records
 * (1) pass the record check, (2) are states the history wrote (with index.json damaged: a known CID of its
 * type, or a CID a flipped digit made, which must then not claim to be complete: index.json has no
 * checksum), (3) say complete only with their root manifest held (the check at open), (4) are the history's
 * last records when only blocks were deleted (minus the check at open's drops), or its records before the
 * last change when only the journal's last frame was torn (which must open), and (5) keep working: one
 * small file added is there, complete and pinned, when the store is opened again without a stop (a crash),
 * and again after that store's checkpoint (a clean stop, which folds).
 */
import fs from 'node:fs'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import { ContentStore } from '../../../src/content/store.js'
import type { ObjectRecord } from '../../../src/content/store.js'
import type { IndexFs } from '../../../src/content/index-fs.js'
import { CHUNK_BYTES, encodeManifest } from '../../../src/content/core/index.js'
import { blake3 } from '../../../src/codec/index.js'
import { indexRecord, recordFields } from '../../../src/content/object-record.js'
import { silentLogger } from '../../../src/log/index.js'
import type { Logger } from '../../../src/log/index.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'
import { scratchDir } from '../scratch.js'
import { DAMAGE_OPS, OP_DELETE_BLOCK, OP_TEAR, applyDamage } from './content-index-damage.js'
import type { Damaged, IndexFiles } from './content-index-damage.js'

const QUOTA_BYTES = 64 * 1024 * 1024
const RETENTION_MS = 10_000
/** The clock of every open after the bases: later than anything they wrote. */
const RUN_NOW_MS = 10_000_000
const OPS_MAX = 8

const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text)
async function * source (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }
const recordKey = (r: ObjectRecord): string => JSON.stringify(recordFields(r))

/** One history: its files, every record it wrote, and its records after each change. */
interface Base {
  index: IndexFiles
  /** blocks/<hh>/<hex> → bytes. */
  blocks: Map<string, Buffer>
  /** Every record state the history wrote (`recordKey`), and each CID's type. */
  written: Set<string>
  types: Map<string, 'file' | 'dir'>
  /** The records after each change (cid → recordKey); the last is what a clean open must find. */
  states: Array<Map<string, string>>
}

let root: string | undefined
let bases: Base[] = []
/** The messages of the error lines logged by the store opened in the current run. */
let errorLines: string[] = []
let logger: Logger | undefined

/** A logger that drops everything but remembers the error lines' messages (the typed rejection's log line). */
function recordingLogger (): Logger {
  const silent = silentLogger()
  const error = (...args: unknown[]): void => { errorLines.push(String(args.find((a) => typeof a === 'string') ?? '')) }
  const recording: Logger = { ...silent, error: error as Logger['error'], forComponent: () => recording }
  return recording
}

/**
 * The index's file operations with node:fs's synchronous calls: the same files, syscalls and fsyncs as
 * nodeIndexFs, without a thread-pool round trip for each (most of a run's time was spent waiting for those).
 */
const syncIndexFs: IndexFs = {
  readFile: async (file) => fs.readFileSync(file),
  append: async (file, bytes) => {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND)
    try { fs.writeSync(fd, bytes); fs.fdatasyncSync(fd) } finally { fs.closeSync(fd) }
  },
  writeSynced: async (file, bytes) => {
    const fd = fs.openSync(file, 'w', 0o600)
    try { fs.writeSync(fd, bytes); fs.fsyncSync(fd) } finally { fs.closeSync(fd) }
  },
  rename: async (from, to) => { fs.renameSync(from, to) },
  truncate: async (file, length) => { fs.truncateSync(file, length) },
  rm: async (file) => { fs.rmSync(file, { force: true }) },
  syncDir: async (dir) => { const fd = fs.openSync(dir, 'r'); try { fs.fsyncSync(fd) } finally { fs.closeSync(fd) } }
}

/** Writes one history with the real ContentStore; `foldMidway` checkpoints after its gc round. */
async function buildBase (dir: string, foldMidway: boolean): Promise<Base> {
  let clock = 1000
  const log = silentLogger()
  const store = await ContentStore.open({ dir, quotaBytes: QUOTA_BYTES, log, nowMs: () => clock })
  const written = new Set<string>()
  const types = new Map<string, 'file' | 'dir'>()
  const states: Array<Map<string, string>> = []
  const changed = (): void => {
    const state = new Map<string, string>()
    for (const r of store.list()) { written.add(recordKey(r)); types.set(r.cid, r.type); state.set(r.cid, recordKey(r)) }
    states.push(state)
  }
  const add = async (text: string, pin: boolean): Promise<{ cid: CID, size: number }> => {
    clock += 100
    const record = await store.addFile(source(bytesOf(text)), { pin })
    changed()
    return { cid: CID.parse(record.cid), size: record.size }
  }
  const setPinned = async (file: { cid: CID, size: number }, pinned: boolean): Promise<void> => {
    await store.setRecord(file.cid, { type: 'file', size: file.size, pinned })
    changed()
  }
  const first = await add(`first file of base ${foldMidway ? 1 : 0}`, true)
  const second = await add('second file', false)
  const third = await add('third file', false)
  clock += 100
  await store.addDir([{ name: 'a', cid: first.cid }, { name: 'b', cid: second.cid }]); changed()
  // A fetch in progress: a partial record whose root is not held.
  const partial = encodeManifest({ v: 1, type: 'file', size: 5, chunkBytes: CHUNK_BYTES, chunks: [blake3(bytesOf('never'))] }).cid
  await store.setRecord(partial, { type: 'file', size: 5, complete: false }); changed()
  await setPinned(second, true)
  await setPinned(first, false)
  // `first` and the directory go at this round (unpinned, past retention), and their blocks; `third` stays.
  clock += RETENTION_MS
  await store.touch(third.cid)
  const gc = await store.gc(RETENTION_MS); changed()
  invariant(gc.removedObjects === 2 && gc.removedBlocks === 3, () => `base gc round removed ${JSON.stringify(gc)}`)
  let previousJournal: Buffer | undefined
  if (foldMidway) {
    previousJournal = fs.readFileSync(path.join(dir, 'index.journal'))
    await store.checkpoint()
  }
  const fourth = await add('fourth file', false)
  // The last change is one frame, so a tear of the journal's last frame goes back exactly one state.
  await setPinned(fourth, true)
  const blocks = new Map<string, Buffer>()
  for (const prefix of fs.readdirSync(path.join(dir, 'blocks'))) {
    for (const name of fs.readdirSync(path.join(dir, 'blocks', prefix))) blocks.set(`${prefix}/${name}`, fs.readFileSync(path.join(dir, 'blocks', prefix, name)))
  }
  const index: IndexFiles = {
    snapshot: fs.readFileSync(path.join(dir, 'index.json')),
    journal: fs.readFileSync(path.join(dir, 'index.journal')),
    otherJournals: previousJournal === undefined ? [] : [previousJournal]
  }
  // What the module doc promises of each base: frames beside index.json, and a fold only in the second.
  const frames = index.journal.toString('latin1').split('\n').length - 2
  invariant(frames >= (foldMidway ? 2 : 10), () => `base journal holds ${frames} frames`)
  invariant(foldMidway === index.snapshot.includes('"journalFolded"'), 'base index.json names a folded journal only after a fold')
  return { index, blocks, written, types, states }
}

/** Makes `dir` hold exactly `blocks` (most runs change none or one) and the index files of `damaged`. */
function writeDir (dir: string, base: Base, damaged: Damaged): void {
  fs.mkdirSync(dir, { recursive: true })
  for (const name of fs.readdirSync(dir)) if (name !== 'blocks' && name !== 'tmp') fs.rmSync(path.join(dir, name), { force: true, recursive: true })
  const blocksDir = path.join(dir, 'blocks')
  fs.mkdirSync(blocksDir, { recursive: true })
  const wanted = new Map([...base.blocks].filter(([name]) => !damaged.deletedBlocks.has(name)))
  for (const prefix of fs.readdirSync(blocksDir)) {
    for (const name of fs.readdirSync(path.join(blocksDir, prefix))) {
      if (!wanted.delete(`${prefix}/${name}`)) fs.rmSync(path.join(blocksDir, prefix, name), { force: true })
    }
  }
  for (const [name, bytes] of wanted) {
    fs.mkdirSync(path.join(blocksDir, path.dirname(name)), { recursive: true })
    fs.writeFileSync(path.join(blocksDir, name), bytes)
  }
  if (damaged.snapshot !== undefined) fs.writeFileSync(path.join(dir, 'index.json'), damaged.snapshot)
  if (damaged.journal !== undefined) fs.writeFileSync(path.join(dir, 'index.journal'), damaged.journal)
}

/** The held-root lookup of the check at open. */
function rootHeld (store: ContentStore, cid: string): boolean {
  return store.hasBlock(CID.parse(cid))
}

function checkRecords (store: ContentStore, base: Base, damaged: Damaged): void {
  for (const r of store.list()) {
    const checked = indexRecord(recordFields(r))
    invariant(checked !== undefined && recordKey(checked) === recordKey(r), () => `record fails the record check: ${recordKey(r)}`)
    if (r.complete) invariant(rootHeld(store, r.cid), () => `record says complete without its root manifest held: ${r.cid}`)
    const type = base.types.get(r.cid)
    if (damaged.snapshotTouched) {
      // index.json has no checksum: a flipped digit is another size or time, a flipped CID character
      // another valid root CID. Such a record must not claim to be held (the check at open).
      invariant(type === undefined || type === r.type, () => `record of ${r.cid} has type ${r.type}, the history wrote ${String(type)}`)
      invariant(type !== undefined || !r.complete, () => `record ${r.cid} the history never wrote says complete`)
    } else {
      // Partial records of roots the check at open found gone are states too (a pin marked partial).
      const key = recordKey(r)
      invariant(base.written.has(key) || base.written.has(recordKey({ ...r, complete: true })),
        () => `record ${key} is no state the history wrote`)
    }
  }
}

/** After the damage left index.json and the journal alone: every record, less what the check at open drops. */
function checkUnchanged (store: ContentStore, base: Base): void {
  const last = base.states[base.states.length - 1] as Map<string, string>
  const found = new Map(store.list().map((r) => [r.cid, r]))
  for (const [cid, key] of last) {
    const expected = JSON.parse(key) as ObjectRecord
    const held = !expected.complete || rootHeld(store, cid)
    const want = held ? key : expected.pinned ? recordKey({ ...expected, complete: false }) : undefined
    const got = found.get(cid)
    invariant((got === undefined ? undefined : recordKey(got)) === want, () => `record ${cid}: expected ${String(want)}, found ${got === undefined ? 'none' : recordKey(got)}`)
  }
  invariant(found.size <= last.size, () => `${found.size} records found, the history ended with ${last.size}`)
}

/** After a tear of the journal's last frame: the records before the last change, exactly. */
function checkTorn (store: ContentStore, base: Base): void {
  const before = base.states[base.states.length - 2] as Map<string, string>
  const found = store.list()
  invariant(found.length === before.size && found.every((r) => before.get(r.cid) === recordKey(r)),
    () => `a torn last frame opened as ${found.map(recordKey).join(', ')}`)
}

async function openStore (dir: string): Promise<ContentStore> {
  logger ??= recordingLogger()
  return await ContentStore.open({ dir, quotaBytes: QUOTA_BYTES, log: logger, nowMs: () => RUN_NOW_MS, indexFs: syncIndexFs })
}

async function run (input: Uint8Array): Promise<void> {
  invariant(root !== undefined, 'setup() not called')
  const which = (input[0] ?? 0) % bases.length
  const base = bases[which] as Base
  const ops: number[][] = []
  for (let i = 1; i + 3 < input.length && ops.length < OPS_MAX; i += 4) ops.push([...input.subarray(i, i + 4)])
  const damaged = applyDamage(base.index, [...base.blocks.keys()].sort(), ops)
  const dir = path.join(root, `work-${which}`)
  writeDir(dir, base, damaged)
  errorLines = []
  let store: ContentStore
  try {
    store = await openStore(dir)
  } catch (err) {
    invariant(!damaged.tornOnly, () => `a journal torn only in its last frame did not open: ${(err as Error).name}: ${(err as Error).message}`)
    if ((err as Error).name === 'StoreJournalCorruptError') invariant(errorLines.length > 0, 'StoreJournalCorruptError without an error log line')
    throw err
  }
  checkRecords(store, base, damaged)
  if (!damaged.snapshotTouched && !damaged.journalTouched) checkUnchanged(store, base)
  if (damaged.tornOnly) checkTorn(store, base)
  // Durable once addFile returns: found by an open without a stop (a crash) and after a clean stop (a fold).
  const added = await store.addFile(source(bytesOf('added after the damage')), { pin: true })
  for (const stop of ['crash', 'checkpoint']) {
    const reopened = await openStore(dir)
    const again = reopened.record(added.cid)
    invariant(again !== undefined && again.complete && again.pinned, () => `the file added after opening is ${again === undefined ? 'gone' : recordKey(again)} after a ${stop} and a reopen`)
    await reopened.checkpoint()
  }
}

export const contentIndexTarget: FuzzTarget = {
  name: 'content-index',
  description: 'damaged content store (bit flips, zeroed/cut/duplicated ranges and frames, swapped/deleted index files, deleted blocks) → ContentStore.open',
  typedErrors: ['StoreJournalCorruptError'],
  async setup () {
    if (root !== undefined) return
    root = scratchDir('content-index')
    bases = [await buildBase(path.join(root, 'base-0'), false), await buildBase(path.join(root, 'base-1'), true)]
    // Each base's journal is another history's for the other: set aside, never replayed.
    bases[0]?.index.otherJournals.push(bases[1]?.index.journal as Buffer)
    bases[1]?.index.otherJournals.push(bases[0]?.index.journal as Buffer)
  },
  corpus: () => [Uint8Array.of(0), Uint8Array.of(1), Uint8Array.of(0, OP_TEAR, 0, 0, 7), Uint8Array.of(1, OP_DELETE_BLOCK, 3, 0, 0)],
  generate: (rng: FuzzRng) => {
    const base = rng.int(2)
    // Pure tears and pure block deletions often, so their exact checks run; otherwise any 1–4 ops.
    const kind = rng.int(6)
    const op = (): number => kind === 0 ? OP_TEAR : kind === 1 ? OP_DELETE_BLOCK : rng.int(DAMAGE_OPS)
    return Uint8Array.from([base, ...Array.from({ length: 1 + rng.int(kind <= 1 ? 2 : 4) }, () => [op(), rng.int(256), rng.int(256), rng.int(256)]).flat()])
  },
  run,
  close () {
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true })
    root = undefined
    bases = []
  }
}
