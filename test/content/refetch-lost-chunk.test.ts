/**
 * A fetched file one of whose chunks is lost here (a block that failed its check on read and was deleted; a
 * power cut, since fetched blocks are not fsynced) is fetched again, only that chunk, at its next fetch or get:
 * the log line of the deletion says "it will be fetched again". Method: two in-process nodes; b fetches a
 * 4-chunk file from a, then one of b's chunk files is damaged on disk; a get on b fails once (the damaged
 * block is deleted), and the next get gives back every byte.
 * Red before: the record still said complete, so fetch and get took it as held and every later get failed
 * with ContentNotFoundError for good (and b kept announcing the file as complete).
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { CHUNK_BYTES, chunkCid } from '../../src/content/core/index.js'
import { blake3 } from '../../src/codec/index.js'
import type { ContentStore } from '../../src/content/store.js'
import { ContentCluster } from './helpers.js'
import { waitFor } from '../node/helpers.js'

let cluster = new ContentCluster()

afterEach(async () => {
  await cluster.close()
  cluster = new ContentCluster()
})

describe('content chunk lost after a fetch', () => {
  it('should fetch again the chunk of a complete file that failed its check, and only it', async () => {
    const [a, b] = await cluster.start(2)
    const bytes = randomBytes(3 * CHUNK_BYTES + 100)
    const cid = (await a!.content.add(bytes)).cidObject
    await waitFor(() => b!.content.providers(cid).length === 1, 60_000, 'a known as a provider')
    expect(Buffer.from(await b!.content.get(cid)).equals(bytes)).toBe(true)

    const manifest = await b!.content.manifest(cid)
    if (manifest?.type !== 'file') throw new Error('a file manifest')
    await damageBlock(b!.dir, manifest.chunks[1]!)
    await expect(b!.content.get(cid)).rejects.toHaveProperty('name', 'ContentNotFoundError')

    const served = (a!.content.status().server as { blocksServed: number }).blocksServed
    expect(Buffer.from(await b!.content.get(cid)).equals(bytes)).toBe(true)
    expect(b!.content.record(cid)?.complete).toBe(true)
    // That chunk alone came again (the manifest and the other chunks were held).
    expect((a!.content.status().server as { blocksServed: number }).blocksServed - served).toBe(1)
    expect(chunkCid(blake3(bytes.subarray(CHUNK_BYTES, 2 * CHUNK_BYTES))).toString()).toBe(chunkCid(manifest.chunks[1]!).toString())
  }, 120_000)

  it('should fetch again a lost chunk of a file held complete when a directory holding it is fetched', async () => {
    const [a, b] = await cluster.start(2)
    const bytes = randomBytes(2 * CHUNK_BYTES + 100)
    const fileCid = (await a!.content.add(bytes)).cidObject
    await waitFor(() => b!.content.providers(fileCid).length === 1, 60_000, 'a known as a provider of the file')
    await b!.content.fetch(fileCid)
    const manifest = await b!.content.manifest(fileCid)
    if (manifest?.type !== 'file') throw new Error('a file manifest')
    await damageBlock(b!.dir, manifest.chunks[0]!)
    await expect(b!.content.get(fileCid)).rejects.toHaveProperty('name', 'ContentNotFoundError')

    const dir = await a!.content.addDir([{ name: 'f', cid: fileCid }])
    const dirCid = (await import('../../src/content/store.js')).parseRootCid(dir.cid)
    await waitFor(() => b!.content.providers(dirCid).length === 1, 60_000, 'a known as a provider of the directory')
    expect((await b!.content.fetch(dirCid)).complete).toBe(true)
    // Fetched again by the directory's fetch, not by the get below.
    expect((b!.content as unknown as { store: ContentStore }).store.hasDigest(manifest.chunks[0]!)).toBe(true)
    expect(Buffer.from(await b!.content.get(fileCid)).equals(bytes)).toBe(true)
  }, 120_000)

  // A directory held complete is checked down to its files' chunks when it is fetched again: its record says
  // complete, and so does its file's, yet a chunk of that file was lost (deleted when it failed its check).
  // Red before: the directory's fetch took its manifest as enough, and the chunk was never fetched again.
  it('should fetch again a lost chunk of a file below a directory held complete when the directory is fetched again', async () => {
    const [a, b] = await cluster.start(2)
    const bytes = randomBytes(2 * CHUNK_BYTES + 100)
    const fileCid = (await a!.content.add(bytes)).cidObject
    const dirCid = (await import('../../src/content/store.js')).parseRootCid((await a!.content.addDir([{ name: 'f', cid: fileCid }])).cid)
    await waitFor(() => b!.content.providers(dirCid).length === 1, 60_000, 'a known as a provider of the directory')
    expect((await b!.content.fetch(dirCid)).complete).toBe(true)
    const manifest = await b!.content.manifest(fileCid)
    if (manifest?.type !== 'file') throw new Error('a file manifest')
    await damageBlock(b!.dir, manifest.chunks[1]!)
    await expect(b!.content.get(fileCid)).rejects.toHaveProperty('name', 'ContentNotFoundError')
    const store = (b!.content as unknown as { store: ContentStore }).store
    expect(store.hasDigest(manifest.chunks[1]!)).toBe(false)

    const served = (a!.content.status().server as { blocksServed: number }).blocksServed
    expect((await b!.content.fetch(dirCid)).complete).toBe(true)
    // Fetched again by the directory's fetch, that chunk alone.
    expect(store.hasDigest(manifest.chunks[1]!)).toBe(true)
    expect((a!.content.status().server as { blocksServed: number }).blocksServed - served).toBe(1)
    expect(Buffer.from(await b!.content.get(fileCid)).equals(bytes)).toBe(true)
  }, 120_000)
})

/** Flips a byte of the block `digest` held by the node of `dataDir`: its check fails on the next read. */
async function damageBlock (dataDir: string, digest: Uint8Array): Promise<void> {
  const hex = Buffer.from(digest).toString('hex')
  const file = path.join(dataDir, 'content', 'blocks', hex.slice(0, 2), hex)
  const damaged = await fs.readFile(file)
  damaged[7] = (damaged[7] as number) ^ 0xff
  await fs.writeFile(file, damaged)
}
