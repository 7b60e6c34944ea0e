/**
 * A fetch names a root: a BLAKE3 dag-cbor manifest CID. A raw block CID is no root, even when the block's bytes
 * happen to decode as a manifest: any member can add a file whose bytes are a manifest's, and any key holder can
 * commit a catalog naming that file's raw chunk CID, which every holder of the role then fetches
 * (the materializer parses any CID). Method: one in-process node adds a file whose bytes are the manifest of
 * another file it holds, then fetches the raw CID of that chunk, as the materializer would.
 * Red before: the fetch took the held chunk as the root's manifest and recorded the raw CID as a complete object;
 * every 30 s the announcement of everything held then threw on it (`parseRootCid`) in `void announceAll()`, an
 * unhandled rejection, which ends the process: on every holder of the role, again after each restart.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import { chunkCid } from '../../src/content/core/index.js'
import { blake3 } from '../../src/codec/index.js'
import { parseRootCid } from '../../src/content/store.js'
import { ContentCluster } from './helpers.js'

let cluster = new ContentCluster()

afterEach(async () => {
  await cluster.close()
  cluster = new ContentCluster()
})

describe('content fetch of a raw CID', () => {
  it('should refuse a raw block CID as a root, even one whose bytes decode as a manifest, and record nothing', async () => {
    const [a] = await cluster.start(1)
    const inner = await a!.content.add(randomBytes(1000))
    const manifestBytes = await manifestOf(a!.dir, inner.cidObject)
    await a!.content.add(manifestBytes)
    const raw = chunkCid(blake3(manifestBytes))

    await expect(a!.content.fetch(raw)).rejects.toHaveProperty('name', 'InvalidCidError')
    await expect(a!.content.get(raw)).rejects.toHaveProperty('name', 'InvalidCidError')
    expect(a!.content.record(raw)).toBeUndefined()
    for (const r of a!.content.list()) expect(() => parseRootCid(r.cid)).not.toThrow()
    // What the 30 s re-announcement runs: it must not throw.
    await (a!.content as unknown as { announceAll: () => Promise<void> }).announceAll()
  }, 60_000)
})

describe('the announcement of everything held', () => {
  it('should leave out a record it cannot announce and announce the rest, never rejecting', async () => {
    // Whatever the next bad record is, a rejection in this timer's `void` ends the process on every holder.
    const [a] = await cluster.start(1)
    const good = await a!.content.add(randomBytes(1000))
    const raw = chunkCid(blake3(randomBytes(10))).toString()
    const inner = a!.content as unknown as {
      store: { list: () => Array<{ cid: string }>, record: (cid: string) => unknown }
      announcer: { have: (items: Array<{ cid: CID }>) => Promise<void> }
      announceAll: () => Promise<void>
    }
    const list = inner.store.list.bind(inner.store)
    const record = inner.store.record.bind(inner.store)
    inner.store.list = () => [{ cid: raw }, ...list()]
    inner.store.record = (cid) => cid === raw ? { cid: raw, size: 10, complete: true } : record(cid)
    const announced: string[] = []
    inner.announcer.have = async (items) => { announced.push(...items.map((i) => i.cid.toString())) }
    await inner.announceAll()
    expect(announced).toEqual([good.cid])
    // The announcer failing is no rejection either.
    inner.announcer.have = async () => { throw new Error('publish failed') }
    await inner.announceAll()
  }, 60_000)
})

/** The bytes of the manifest block of `root`, held by the node of `dataDir`. */
async function manifestOf (dataDir: string, root: CID): Promise<Uint8Array> {
  const hex = Buffer.from(root.multihash.digest).toString('hex')
  return new Uint8Array(await fs.readFile(path.join(dataDir, 'content', 'blocks', hex.slice(0, 2), hex)))
}
