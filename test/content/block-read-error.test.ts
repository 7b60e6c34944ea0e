/**
 * A block read that fails for a reason other than the file being gone (EMFILE on a loaded node at its file
 * limit, EIO) is no proof that the block is gone. Method: a real store on a temp dir; `fs.promises.readFile` is
 * made to fail with EMFILE for one block file, during a read and during a gc round.
 * Red before: the read forgot the block (usage down, `has` false) though its file was intact, so the object,
 * recorded complete, could not be read or served until a restart; and a gc round that met the failure on a
 * pinned file's manifest took it as absent and deleted every chunk of that file: pinned content lost.
 */
import { promises as fsPromises } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ContentStore, parseRootCid } from '../../src/content/store.js'
import { CHUNK_BYTES } from '../../src/content/core/index.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'

const dirs: string[] = []

afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(dirs.splice(0).map(async (d) => { await fsPromises.rm(d, { recursive: true, force: true }) }))
})

async function open (): Promise<{ store: ContentStore, dir: string }> {
  const dir = await tempDir('revoada-block-read-')
  dirs.push(dir)
  return { store: await ContentStore.open({ dir, quotaBytes: 1 << 30, log: silentLogger() }), dir }
}

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes
}

async function readAll (store: ContentStore, cid: string): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of store.readFile(parseRootCid(cid))) parts.push(part)
  return Buffer.concat(parts)
}

/** Makes every read of the block file named `hex` fail with EMFILE while `failing()` holds. */
function failReads (dir: string, hex: string, failing: () => boolean): void {
  const file = path.join(dir, 'blocks', hex.slice(0, 2), hex)
  const real = fsPromises.readFile.bind(fsPromises)
  vi.spyOn(fsPromises, 'readFile').mockImplementation(async (...args: Parameters<typeof fsPromises.readFile>) => {
    if (args[0] === file && failing()) throw Object.assign(new Error(`EMFILE: too many open files, open '${file}'`), { code: 'EMFILE' })
    return await real(...args)
  })
}

const hexOf = (cid: string): string => Buffer.from(parseRootCid(cid).multihash.digest).toString('hex')

describe('content block reads that fail', () => {
  it('should keep a block whose read fails with EMFILE, and read it once the failure passes', async () => {
    const { store, dir } = await open()
    const bytes = randomBytes(2 * CHUNK_BYTES + 10)
    const file = await store.addFile(once(bytes), { pin: true })
    const used = store.usedBytes
    let failing = true
    failReads(dir, hexOf(file.cid), () => failing)
    await expect(readAll(store, file.cid)).rejects.toThrow(/EMFILE/)
    expect(store.hasBlock(parseRootCid(file.cid))).toBe(true)
    expect(store.usedBytes).toBe(used)
    failing = false
    expect((await readAll(store, file.cid)).equals(bytes)).toBe(true)
  })

  it('should delete nothing a pinned file reaches when a gc round cannot read its manifest', async () => {
    const { store, dir } = await open()
    const bytes = randomBytes(3 * CHUNK_BYTES)
    const file = await store.addFile(once(bytes), { pin: true })
    // Something for the round to collect: an unpinned file past its retention.
    await store.addFile(once(randomBytes(1000)))
    let failing = true
    failReads(dir, hexOf(file.cid), () => failing)
    await store.gc(0).catch(() => undefined)
    failing = false
    expect(store.record(file.cid)?.complete).toBe(true)
    expect((await readAll(store, file.cid)).equals(bytes)).toBe(true)
    // The failure passed: the next round collects the unpinned file.
    const result = await store.gc(0)
    expect(result.removedObjects).toBe(1)
    expect((await readAll(store, file.cid)).equals(bytes)).toBe(true)
  })
})
