/**
 * A fetch that ends at the store's object limit (StoreIndexFullError) drops the partial records it made, so
 * the index has room again for what can be added, and nothing is resumed at the next start. Method: the limit
 * lowered to 3 objects (a module mock of the constants), and a directory of 3 files fetched from one provider
 * played in process (scripted-provider.ts): the directory's record and two files' fill the index.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CHUNK_BYTES_MIN, ProviderTable, encodeManifest, sortEntries } from '../../src/content/core/index.js'
import { ContentStore } from '../../src/content/store.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'
import { ScriptedProvider, fileBlocks } from './scripted-provider.js'

vi.mock('../../src/content/core/constants.js', async (importOriginal) => ({ ...await importOriginal<object>(), OBJECTS_MAX: 3 }))

const dirs: string[] = []
const providers: ScriptedProvider[] = []

afterEach(async () => {
  for (const p of providers.splice(0)) p.release()
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }

describe('a fetch whose store index is full', { timeout: 60_000 }, () => {
  it('should drop the partial record of a directory whose fetch ended at the object limit, pinned too, so that the store takes an add again', async () => {
    // Before, the directory's partial record stayed: gc kept it and what it reaches, and every start resumed
    // it, so the index stayed full for good (no add, no fetch) with no way to abandon the fetch.
    const blocks = new Map<string, Uint8Array>()
    const entries = ['a', 'b', 'c'].map((name) => {
      const file = fileBlocks([randomBytes(CHUNK_BYTES_MIN)], CHUNK_BYTES_MIN)
      for (const [cid, bytes] of file.blocks) blocks.set(cid, bytes)
      return { name, cid: file.root, size: CHUNK_BYTES_MIN }
    })
    const dirManifest = encodeManifest({ v: 1, type: 'dir', entries: sortEntries(entries) })
    blocks.set(dirManifest.cid.toString(), dirManifest.bytes)
    const dir = await tempDir('revoada-content-')
    dirs.push(dir)
    const store = await ContentStore.open({ dir, quotaBytes: 1 << 20, log: silentLogger() })
    const provider = await ScriptedProvider.create(blocks)
    providers.push(provider)
    const table = new ProviderTable()
    for (const cid of [dirManifest.cid, ...entries.map((e) => e.cid)]) table.have(provider.peer, cid.toString(), 0, false, Date.now())
    const { fetch } = provider.fetch(dirManifest.cid, store, { table }, { pin: true })

    await expect(fetch.run()).rejects.toHaveProperty('name', 'StoreIndexFullError')
    expect(store.record(dirManifest.cid)).toBeUndefined()
    // The files it completed stay complete, pinned as the fetch pinned them (`unpin` lets them go); nothing is partial.
    expect(store.list().map((r) => r.complete)).toEqual([true, true])
    await expect(store.addFile(once(randomBytes(100)))).resolves.toMatchObject({ complete: true })
  })
})
