/**
 * The store index's journal (docs/CONTENT.md §3): a change appends one frame and leaves index.json alone, the
 * journal is replayed at the next open, a frame cut short at the end is truncated, damage before the end is
 * refused, the journal is folded into index.json (and a stop between the steps of a fold loses nothing),
 * index.json from a build before the journal opens unchanged, concurrent changes share one fdatasync, and
 * touches wait for the next write. A "crash" is a store dropped without `checkpoint` and the directory opened
 * again, with the files as the step reached would leave them.
 */
import { promises as fs, readdirSync } from 'node:fs'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { ContentStore, parseRootCid } from '../../src/content/store.js'
import type { ObjectRecord } from '../../src/content/store.js'
import { ObjectIndex } from '../../src/content/object-index.js'
import { nodeIndexFs } from '../../src/content/index-fs.js'
import type { IndexFs } from '../../src/content/index-fs.js'
import { INDEX_TOUCHES_PENDING_MAX, chunkCid } from '../../src/content/core/index.js'
import { blake3 } from '../../src/codec/index.js'
import { silentLogger } from '../../src/log/index.js'
import type { Logger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'

const dirs: string[] = []
let clock = 1_000_000

afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

async function newDir (): Promise<string> {
  const dir = await tempDir('revoada-journal-')
  dirs.push(dir)
  return dir
}

/**
 * A root (dag-cbor, BLAKE3) CID of no held block: these records need no blocks, being partial (a store opened
 * on a complete record whose root it lacks drops it, or marks it partial when pinned).
 */
function rootCid (i: number): CID {
  return CID.createV1(0x71, Digest.create(0x1e, blake3(Buffer.from(`object ${i}`))))
}

function record (i: number, patch: Partial<ObjectRecord> = {}): ObjectRecord {
  return { cid: rootCid(i).toString(), type: 'file', size: i, complete: false, pinned: false, addedAtMs: 1000 + i, lastUsedMs: 1000 + i, ...patch }
}

type Op = 'append' | 'writeSynced' | 'rename' | 'syncDir'

/** node's file operations, counting appends and fsyncs; `fail` makes the operation it names throw instead. */
function countingFs (fail: (op: Op, file: string) => boolean = () => false): IndexFs & { appends: number, syncs: number } {
  const counting = {
    ...nodeIndexFs,
    appends: 0,
    syncs: 0,
    append: async (file: string, bytes: Uint8Array) => {
      if (fail('append', file)) throw Object.assign(new Error('injected'), { code: 'EIO' })
      counting.appends++
      counting.syncs++
      await nodeIndexFs.append(file, bytes)
    },
    writeSynced: async (file: string, bytes: Uint8Array) => {
      if (fail('writeSynced', file)) throw Object.assign(new Error('injected'), { code: 'EIO' })
      counting.syncs++
      await nodeIndexFs.writeSynced(file, bytes)
    },
    rename: async (from: string, to: string) => {
      if (fail('rename', to)) throw Object.assign(new Error('injected'), { code: 'EIO' })
      await nodeIndexFs.rename(from, to)
    },
    syncDir: async (dir: string) => {
      if (fail('syncDir', dir)) throw Object.assign(new Error('injected'), { code: 'EIO' })
      counting.syncs++
      await nodeIndexFs.syncDir(dir)
    }
  }
  return counting
}

async function openStore (dir: string, options: { indexFs?: IndexFs, log?: Logger } = {}): Promise<ContentStore> {
  return await ContentStore.open({ dir, quotaBytes: 1 << 30, log: options.log ?? silentLogger(), nowMs: () => clock, ...options })
}

async function openIndex (dir: string, options: { indexFs?: IndexFs, log?: Logger, foldBytesMin?: number } = {}): Promise<ObjectIndex> {
  await fs.mkdir(path.join(dir, 'tmp'), { recursive: true })
  return await ObjectIndex.open({
    dir, tmpDir: path.join(dir, 'tmp'), log: options.log ?? silentLogger(), nowMs: () => clock, fs: options.indexFs ?? nodeIndexFs, foldBytesMin: options.foldBytesMin
  })
}

async function * bytesOf (text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text)
}

function sorted (records: Iterable<ObjectRecord>): ObjectRecord[] {
  return [...records].sort((a, b) => (a.cid < b.cid ? -1 : 1))
}

/** A journal line written by hand: checksum, space, payload (cross-checks the format in docs/CONTENT.md §3). */
function frameLine (payload: unknown): string {
  const text = JSON.stringify(payload)
  return `${crc32(text).toString(16).padStart(8, '0')} ${text}\n`
}

/** The offsets at which the journal's lines start. */
function lineStarts (bytes: Buffer): number[] {
  const starts = [0]
  for (let at = bytes.indexOf(0x0a); at !== -1 && at + 1 < bytes.length; at = bytes.indexOf(0x0a, at + 1)) starts.push(at + 1)
  return starts
}

describe('content index journal', () => {
  it('should append one frame per change, leave index.json alone, and replay the journal at the next open', async () => {
    // Goal: a change costs its record, not the index (before, each rewrote index.json whole), and survives a
    // crash. Method: three adds, then a pin and a drop; index.json must not change and the journal must grow
    // by two lines; a second store opened on the directory (no checkpoint) must hold the same records.
    const dir = await newDir()
    const store = await openStore(dir)
    const [a, b] = [await store.addFile(bytesOf('a')), await store.addFile(bytesOf('b')), await store.addFile(bytesOf('c'))]
    const index = await fs.readFile(path.join(dir, 'index.json'))
    const journal = await fs.readFile(path.join(dir, 'index.journal'))
    await store.setRecord(parseRootCid(a.cid), { ...a, pinned: true })
    await store.dropRecord(parseRootCid(b.cid))
    expect((await fs.readFile(path.join(dir, 'index.json'))).equals(index)).toBe(true)
    const grown = (await fs.readFile(path.join(dir, 'index.journal'))).subarray(journal.length).toString()
    expect(grown.split('\n')).toHaveLength(3) // two lines and the empty rest
    expect(JSON.parse(grown.split('\n')[1]?.slice(9) ?? '')).toEqual({ drop: b.cid })

    const again = await openStore(dir)
    expect(again.list()).toEqual(store.list())
    expect(again.record(a.cid)?.pinned).toBe(true)
    expect(again.record(b.cid)).toBeUndefined()
    expect(again.list()).toHaveLength(2)
  })

  it('should truncate a frame cut short at the end of the journal, with a warning, and append after it', async () => {
    // Goal: a crash mid-append leaves part of the last batch; its callers were never answered, so it is
    // dropped and the store opens. Method: three kinds of tail (half a line, zeros, a whole last line whose
    // checksum fails); the journal must be back to its whole frames, and a change after it must replay.
    for (const tail of ['half', 'zeros', 'checksum'] as const) {
      const dir = await newDir()
      const store = await openStore(dir)
      const a = await store.addFile(bytesOf('a'))
      await store.addFile(bytesOf('b'))
      const file = path.join(dir, 'index.journal')
      const whole = await fs.readFile(file)
      const line = frameLine({ put: { ...a, pinned: true } })
      const torn = tail === 'half'
        ? Buffer.from(line.slice(0, 40))
        : tail === 'zeros' ? Buffer.alloc(300) : Buffer.from(line.replace('"pinned":true', '"pinned":fals'))
      await fs.appendFile(file, torn)
      const log = silentLogger()
      const warn = vi.spyOn(log, 'warn')
      const again = await openStore(dir, { log })
      expect(again.list()).toEqual(store.list())
      expect(warn).toHaveBeenCalledWith(expect.objectContaining({ offset: whole.length, bytes: torn.length }), expect.stringContaining('cut short'))
      expect((await fs.readFile(file)).equals(whole)).toBe(true)
      await again.setRecord(parseRootCid(a.cid), { ...a, pinned: true })
      expect((await openStore(dir)).record(a.cid)?.pinned).toBe(true)
    }
  })

  it('should refuse to open with StoreJournalCorruptError, naming the offset, when a frame before the last is damaged, and change nothing on disk', async () => {
    // Goal: damage followed by whole frames is not a cut-short write; replaying past it, or truncating at
    // it, would lose the frames after it unnoticed. Method: flip one byte of the first record's frame.
    const dir = await newDir()
    const store = await openStore(dir)
    for (const name of ['a', 'b', 'c']) await store.addFile(bytesOf(name))
    await store.setRecord(rootCid(1), { type: 'dir', size: 0 })
    const file = path.join(dir, 'index.journal')
    const bytes = await fs.readFile(file)
    // Lines: the header, then b, c and the last change (a went to index.json in the new store's first fold).
    const second = lineStarts(bytes)[2] as number
    expect(lineStarts(bytes)).toHaveLength(4)
    bytes[second + 20] = (bytes[second + 20] as number) ^ 0x01
    await fs.writeFile(file, bytes)
    const index = await fs.readFile(path.join(dir, 'index.json'))
    const log = silentLogger()
    const error = vi.spyOn(log, 'error')
    const opening = openStore(dir, { log })
    await expect(opening).rejects.toHaveProperty('name', 'StoreJournalCorruptError')
    await expect(opening).rejects.toThrow(`damaged at byte ${second} (checksum mismatch)`)
    expect(error).toHaveBeenCalledWith(expect.objectContaining({ offset: second }), expect.any(String))
    expect((await fs.readFile(file)).equals(bytes)).toBe(true)
    expect((await fs.readFile(path.join(dir, 'index.json'))).equals(index)).toBe(true)
    expect(readdirSync(dir).filter((f) => f.includes('stale') || f.includes('corrupt'))).toEqual([])
  })

  it('should skip frames whose checksum holds but whose record is not valid, with a warning, as index.json does', async () => {
    // Goal: records read back are input; a whole frame naming a chunk CID or a bad type is skipped, not loaded.
    const dir = await newDir()
    const store = await openStore(dir)
    const a = await store.addFile(bytesOf('a'))
    const chunk = chunkCid(blake3(new Uint8Array([1]))).toString()
    await fs.appendFile(path.join(dir, 'index.journal'), [
      frameLine({ put: { ...a, cid: chunk } }),
      frameLine({ put: { ...a, type: 'symlink' } }),
      frameLine({ put: { ...a, pinned: 'yes' } }),
      frameLine({ drop: 'not a cid' }),
      frameLine({ put: a, extra: 1 }),
      frameLine({ put: { ...record(7), size: 3 * Number.MAX_SAFE_INTEGER } })
    ].join(''))
    const log = silentLogger()
    const warn = vi.spyOn(log, 'warn')
    const again = await openStore(dir, { log })
    expect(sorted(again.list())).toEqual(sorted([a, record(7, { size: Number.MAX_SAFE_INTEGER })]))
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ skipped: 5 }), expect.any(String))
  })

  it('should fold, not append after it, when an append failed part way, and lose no record kept in memory', async () => {
    // Goal: a failed append may leave part of its batch in the journal; a frame appended after that would turn
    // it into damage before the end, and the store would refuse to open. Method: an append that writes half
    // its bytes and fails; the next commit must write index.json anew, and every record must read back.
    const dir = await newDir()
    let cut = false
    const counting = countingFs()
    counting.append = async (file, bytes) => {
      if (!cut) return await nodeIndexFs.append(file, bytes)
      cut = false
      await nodeIndexFs.append(file, bytes.subarray(0, bytes.length >> 1))
      throw Object.assign(new Error('injected'), { code: 'EIO' })
    }
    const index = await openIndex(dir, { indexFs: counting })
    for (const i of [1, 2]) { index.set(record(i)); await index.commit() }
    cut = true
    index.set(record(3))
    await expect(index.commit()).rejects.toThrow('injected')
    index.set(record(4))
    await index.commit()
    expect(sorted((await openIndex(dir)).values())).toEqual(sorted([1, 2, 3, 4].map((i) => record(i))))
  })

  it('should fold the journal into index.json once it outgrows its bound and index.json, and read the same records after', async () => {
    // Goal: the journal stays bounded (a start replays at most about twice the index) and a fold keeps every
    // record. Method: a 2 KiB bound, 60 records and 20 changes to them; count folds, check the journal's size.
    const dir = await newDir()
    const counting = countingFs()
    const index = await openIndex(dir, { indexFs: counting, foldBytesMin: 2048 })
    let journalBytesMax = 0
    for (let i = 0; i < 80; i++) {
      index.set(i < 60 ? record(i) : record(i - 60, { pinned: true }))
      await index.commit()
      journalBytesMax = Math.max(journalBytesMax, (await fs.stat(path.join(dir, 'index.journal'))).size)
    }
    const snapshot = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as { version: number, objects: unknown[] }
    expect(snapshot.version).toBe(1)
    expect(snapshot.objects.length).toBeGreaterThan(10)
    const snapshotBytes = (await fs.stat(path.join(dir, 'index.json'))).size
    expect(journalBytesMax).toBeLessThanOrEqual(Math.max(2048, snapshotBytes) + 300)
    expect(counting.appends).toBeLessThan(80) // the batches that folded appended nothing
    const again = await openIndex(dir)
    expect(sorted(again.values())).toEqual(sorted(index.values()))
    expect(again.get(record(5).cid)?.pinned).toBe(true)

    // A checkpoint (a clean stop) folds whatever the journal holds: index.json alone has every record.
    again.set(record(99))
    await again.checkpoint()
    const folded = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as { objects: ObjectRecord[] }
    expect(sorted(folded.objects)).toEqual(sorted(again.values()))
    expect((await fs.readFile(path.join(dir, 'index.journal'), 'utf8')).split('\n')).toHaveLength(2) // the header
  })

  it('should open with every committed record after a stop between any two steps of a fold', async () => {
    // Goal: a fold writes index.json, then the new journal; a crash at any point leaves a readable pair with
    // every record whose commit returned. Method: make each step of a fold fail in turn (the files stay as the
    // steps before left them), drop the index and open the directory again; then change and reopen once more.
    const steps: Array<[Op, string]> = [
      ['writeSynced', 'index.json'], ['rename', 'index.json'], ['syncDir', ''], ['writeSynced', 'index.journal'], ['rename', 'index.journal'], ['syncDir', '']
    ]
    for (const [step, [op, name]] of steps.entries()) {
      const dir = await newDir()
      let armed = false
      let syncDirs = 0
      const failing = countingFs((o, file) => {
        if (!armed || o !== op) return false
        if (o === 'syncDir') return ++syncDirs === (step === 2 ? 1 : 2)
        return path.basename(file).startsWith(name)
      })
      const index = await openIndex(dir, { indexFs: failing })
      for (let i = 0; i < 10; i++) { index.set(record(i)); await index.commit() }
      const committed = sorted(index.values())
      armed = true
      index.set(record(10, { pinned: true }))
      await expect(index.checkpoint()).rejects.toThrow('injected')
      const log = silentLogger()
      const warn = vi.spyOn(log, 'warn')
      const again = await openIndex(dir, { log })
      const held = sorted(again.values())
      // The record being folded is there once index.json was renamed, and not before; nothing else differs.
      expect(held.filter((r) => r.cid !== record(10).cid)).toEqual(committed)
      expect(held.some((r) => r.cid === record(10).cid)).toBe(step >= 2)
      expect(warn).not.toHaveBeenCalled()
      expect(readdirSync(dir).filter((f) => f.includes('stale') || f.includes('corrupt'))).toEqual([])
      again.set(record(11))
      await again.commit()
      expect(sorted((await openIndex(dir)).values())).toEqual(sorted(again.values()))
    }
  })

  it('should open an index.json written before the journal unchanged, and keep it readable by that build', async () => {
    // Goal: a data dir of the build before the journal (index.json version 1 alone) opens as it is, writes
    // nothing until a change, and index.json stays version 1 with every record, the only fields it reads.
    const dir = await newDir()
    const old = JSON.stringify({ version: 1, objects: [record(1), record(2, { pinned: true })] })
    await fs.writeFile(path.join(dir, 'index.json'), old)
    const store = await openStore(dir)
    expect(sorted(store.list())).toEqual(sorted([record(1), record(2, { pinned: true })]))
    expect(await fs.readFile(path.join(dir, 'index.json'), 'utf8')).toBe(old)
    expect(readdirSync(dir)).not.toContain('index.journal')

    await store.setRecord(rootCid(1), { type: 'file', size: 1, pinned: true })
    const body = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as { version: number, objects: ObjectRecord[] }
    expect(body.version).toBe(1)
    expect(sorted(body.objects)).toEqual(sorted(store.list()))
    expect((await openStore(dir)).record(rootCid(1).toString())?.pinned).toBe(true)
  })

  it('should set aside, not replay, a journal that does not extend index.json', async () => {
    // Goal: after a downgrade, the older build rewrites index.json and ignores the journal; replaying that
    // journal on its index.json would undo its changes. Method: a journal with a pin, then index.json as the
    // older build writes it without that pin; the pin must not come back, and the journal is kept aside.
    const dir = await newDir()
    const store = await openStore(dir)
    const a = await store.addFile(bytesOf('a'))
    await store.setRecord(parseRootCid(a.cid), { ...a, pinned: true })
    await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify({ version: 1, objects: [{ ...a, pinned: false }] }))
    const log = silentLogger()
    const warn = vi.spyOn(log, 'warn')
    const again = await openStore(dir, { log })
    expect(again.record(a.cid)?.pinned).toBe(false)
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ movedTo: expect.stringContaining('index.journal.stale-') }), expect.any(String))
    expect(readdirSync(dir).filter((f) => f.startsWith('index.journal.stale-'))).toHaveLength(1)
  })

  it('should make concurrent changes durable with one append and one fdatasync between them (group commit)', async () => {
    // Goal: callers that commit together, or while a batch is being written, share one fsync. Method: count
    // appends through an injected fs; 32 setRecords at once, then 16 arriving while an append is held back.
    const dir = await newDir()
    let release!: () => void
    const hold = new Promise<void>((resolve) => { release = resolve })
    let holding = false
    const counting = countingFs()
    const append = counting.append
    counting.append = async (file, bytes) => { if (holding) await hold; await append(file, bytes) }
    const store = await openStore(dir, { indexFs: counting })
    await store.setRecord(rootCid(0), { type: 'file', size: 0 }) // the first change folds: a new store has no journal
    const before = { appends: counting.appends, syncs: counting.syncs }
    await Promise.all(Array.from({ length: 32 }, async (_, i) => await store.setRecord(rootCid(i + 1), { type: 'file', size: i })))
    expect([counting.appends - before.appends, counting.syncs - before.syncs]).toEqual([1, 1])

    holding = true
    const first = store.setRecord(rootCid(100), { type: 'file', size: 1 })
    await new Promise((resolve) => setImmediate(resolve)) // the first batch is being written
    const later = Array.from({ length: 16 }, async (_, i) => await store.setRecord(rootCid(101 + i), { type: 'file', size: i }))
    release()
    await Promise.all([first, ...later])
    expect(counting.appends - before.appends).toBe(3)
    for (let i = 0; i < 3; i++) await store.setRecord(rootCid(200 + i), { type: 'file', size: i })
    expect(counting.appends - before.appends).toBe(6) // one after another: one each
    expect(sorted((await openStore(dir)).list())).toEqual(sorted(store.list()))
  })

  it('should write touches lazily: no fsync of their own, then with the next gc round, or once INDEX_TOUCHES_PENDING_MAX wait', async () => {
    // Goal: a read does not wait for an fsync; last use only feeds gc retention of unpinned content, so a
    // crash may lose touches made since the last write. Method: count fsyncs around touches, a "crash", gc.
    const dir = await newDir()
    const counting = countingFs()
    const store = await openStore(dir, { indexFs: counting })
    const a = await store.addFile(bytesOf('a'))
    const added = a.lastUsedMs
    const syncs = counting.syncs
    clock += 5000
    for (let i = 0; i < 3; i++) await store.touch(parseRootCid(a.cid))
    expect(counting.syncs).toBe(syncs)
    expect(store.record(a.cid)?.lastUsedMs).toBe(clock)
    expect((await openStore(dir)).record(a.cid)?.lastUsedMs).toBe(added) // lost in a crash: allowed
    expect((await store.gc(1e12)).removedObjects).toBe(0)
    expect(counting.appends).toBe(1)
    expect((await openStore(dir)).record(a.cid)?.lastUsedMs).toBe(clock)

    // The bound: the touch that makes INDEX_TOUCHES_PENDING_MAX objects wait writes them all, and waits.
    await Promise.all(Array.from({ length: INDEX_TOUCHES_PENDING_MAX }, async (_, i) => await store.setRecord(rootCid(i), { type: 'file', size: i })))
    const appends = counting.appends
    clock += 5000
    for (let i = 0; i < INDEX_TOUCHES_PENDING_MAX - 1; i++) await store.touch(rootCid(i))
    expect(counting.appends).toBe(appends)
    await store.touch(rootCid(INDEX_TOUCHES_PENDING_MAX - 1))
    expect(counting.appends).toBe(appends + 1)
    expect((await openStore(dir)).record(rootCid(0).toString())?.lastUsedMs).toBe(clock)
  })
})
