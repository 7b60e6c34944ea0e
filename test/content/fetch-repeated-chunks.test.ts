/**
 * A file whose manifest names one chunk many times (a file of zeros, a sparse disk image) costs a fetch that
 * chunk once, not once per occurrence. Method: one Fetch against a real store, and one provider played in
 * process (scripted-provider.ts) that counts the chunk requests it reads.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { CHUNK_BYTES_MIN, REQUESTS_IN_FLIGHT_PER_PROVIDER, encodeManifest } from '../../src/content/core/index.js'
import { ContentStore } from '../../src/content/store.js'
import { blake3 } from '../../src/codec/index.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'
import { ScriptedProvider, fileBlocks } from './scripted-provider.js'

const dirs: string[] = []
const providers: ScriptedProvider[] = []

afterEach(async () => {
  for (const p of providers.splice(0)) p.release()
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

async function open (): Promise<ContentStore> {
  const dir = await tempDir('revoada-content-')
  dirs.push(dir)
  return await ContentStore.open({ dir, quotaBytes: 1 << 30, log: silentLogger() })
}

async function provider (blocks: Map<string, Uint8Array>): Promise<ScriptedProvider> {
  const p = await ScriptedProvider.create(blocks)
  providers.push(p)
  return p
}

describe('a fetch of a file that repeats a chunk', { timeout: 60_000 }, () => {
  it('should ask for a chunk the manifest repeats only until its first copy is stored, and read the file back whole', async () => {
    // Before, each occurrence was asked for and carried on its own: 64 copies of one chunk for this file (a
    // file of zeros of 1 GiB: 1,024 transfers of the same 1 MiB, where one is stored).
    const chunkBytes = CHUNK_BYTES_MIN
    const zeros = new Uint8Array(chunkBytes)
    const tail = randomBytes(100)
    const chunks = [...Array.from({ length: 64 }, () => zeros), tail]
    const { root, blocks } = fileBlocks(chunks, chunkBytes)
    const store = await open()
    const p = await provider(blocks)
    const { fetch } = p.fetch(root, store)
    expect(await fetch.run()).toMatchObject({ complete: true, size: 64 * chunkBytes + 100 })
    // The requests out when the first copy of the repeated chunk is stored: the window of requests plus the
    // chunk being written. The one other chunk is among them or asked after.
    expect(p.chunksAsked).toBeLessThanOrEqual(REQUESTS_IN_FLIGHT_PER_PROVIDER + 2)
    expect(fetch.progress).toMatchObject({ state: 'done', chunksDone: 65, chunksTotal: 65, bytesDone: 64 * chunkBytes + 100 })
    const read: Uint8Array[] = []
    for await (const chunk of store.readFile(root)) read.push(chunk)
    expect(Buffer.concat(read).equals(Buffer.concat(chunks))).toBe(true)
  })

  it('should end as MalformedContentError when a repeated digest stands for chunks of two lengths', async () => {
    // No bytes are both a whole chunk and the shorter last one: a copy stored for one occurrence must not
    // complete the other.
    const chunkBytes = CHUNK_BYTES_MIN
    const full = randomBytes(chunkBytes)
    const manifest = encodeManifest({ v: 1, type: 'file', size: 2 * chunkBytes + 100, chunkBytes, chunks: [blake3(full), blake3(full), blake3(full)] })
    const { blocks } = fileBlocks([full], chunkBytes)
    blocks.set(manifest.cid.toString(), manifest.bytes)
    const store = await open()
    const { fetch } = (await provider(blocks)).fetch(manifest.cid, store)
    await expect(fetch.run()).rejects.toHaveProperty('name', 'MalformedContentError')
    expect(store.record(manifest.cid)).toBeUndefined()
  })
})
