/**
 * An added object is durable when its add answers: every block of it (chunks and manifest) is fsynced, and so
 * is its name in its prefix directory, before the index write that records the object complete. This node may
 * hold the only copy (a template `catalog set` adds and then commits by CID), so a block lost to a power cut
 * after the record is content lost for good, not fetched again. Method: the store's block and index file
 * operations are recorded in order; at each index write, every block file renamed into `blocks/` must have
 * been synced (its bytes before the rename or the file after it, and its directory after the rename).
 * Red before: blocks were never fsynced (a fetched block need not be: it can be fetched again), so after a
 * power cut an acknowledged add could come back as a record saying complete over zero-length blocks.
 */
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { promises as fs } from 'node:fs'
import { ContentStore } from '../../src/content/store.js'
import { nodeBlockFs } from '../../src/content/block-files.js'
import type { BlockFs } from '../../src/content/block-files.js'
import { nodeIndexFs } from '../../src/content/index-fs.js'
import type { IndexFs } from '../../src/content/index-fs.js'
import { CHUNK_BYTES, chunkCid } from '../../src/content/core/index.js'
import { blake3 } from '../../src/codec/index.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'

const dirs: string[] = []

afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

/** Block and index file operations recorded, and checked at every index write. */
class Recorder {
  /** Final block path → whether its bytes are synced, and whether its directory was synced since its rename. */
  readonly blocks = new Map<string, { bytesSynced: boolean, nameSynced: boolean }>()
  private readonly tmpSynced = new Map<string, boolean>()
  readonly violations: string[] = []
  indexWrites = 0

  readonly blockFs: BlockFs = {
    writeFile: async (file, bytes, sync) => {
      await nodeBlockFs.writeFile(file, bytes, sync)
      this.tmpSynced.set(file, sync)
    },
    rename: async (from, to) => {
      await nodeBlockFs.rename(from, to)
      this.blocks.set(to, { bytesSynced: this.tmpSynced.get(from) === true, nameSynced: false })
    },
    mkdir: async (dir) => { await nodeBlockFs.mkdir(dir) },
    sync: async (file) => {
      await nodeBlockFs.sync(file)
      const block = this.blocks.get(file)
      if (block !== undefined) block.bytesSynced = true
      for (const [name, b] of this.blocks) if (path.dirname(name) === file) b.nameSynced = true
    }
  }

  private check (): void {
    this.indexWrites++
    for (const [name, b] of this.blocks) {
      if (!b.bytesSynced) this.violations.push(`${path.basename(name)}: bytes not synced before index write ${this.indexWrites}`)
      if (!b.nameSynced) this.violations.push(`${path.basename(name)}: name not synced before index write ${this.indexWrites}`)
    }
  }

  readonly indexFs: IndexFs = {
    ...nodeIndexFs,
    append: async (file, bytes) => { this.check(); await nodeIndexFs.append(file, bytes) },
    writeSynced: async (file, bytes) => {
      if (path.basename(file).startsWith('index')) this.check()
      await nodeIndexFs.writeSynced(file, bytes)
    }
  }
}

async function open (recorder: Recorder): Promise<ContentStore> {
  const dir = await tempDir('revoada-add-durable-')
  dirs.push(dir)
  return await ContentStore.open({ dir, quotaBytes: 1 << 30, log: silentLogger(), indexFs: recorder.indexFs, blockFs: recorder.blockFs })
}

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes
}

describe('content add durability', () => {
  it('should fsync every block of an added file and directory, and its name, before the index records it', async () => {
    const recorder = new Recorder()
    const store = await open(recorder)
    const bytes = randomBytes(3 * CHUNK_BYTES + 1000)
    const file = await store.addFile(once(bytes))
    // 4 chunks and the manifest, each renamed into blocks/ and synced before the record's index write.
    expect(recorder.blocks.size).toBe(5)
    expect(recorder.indexWrites).toBeGreaterThan(0)
    expect(recorder.violations).toEqual([])

    const dir = await store.addDir([{ name: 'a', cid: (await import('../../src/content/store.js')).parseRootCid(file.cid) }])
    expect(dir.complete).toBe(true)
    expect(recorder.blocks.size).toBe(6)
    expect(recorder.violations).toEqual([])
  })

  it('should fsync a block a fetch stored unsynced when an add names it, before the index records the add', async () => {
    const recorder = new Recorder()
    const store = await open(recorder)
    const bytes = randomBytes(1000)
    // As a fetch stores a chunk: not durable.
    await store.putBlock(chunkCid(blake3(bytes)), bytes)
    const [chunk] = [...recorder.blocks.values()]
    expect(chunk?.bytesSynced).toBe(false)
    await store.addFile(once(bytes))
    expect(recorder.blocks.size).toBe(2)
    expect(recorder.violations).toEqual([])
  })
})
