/**
 * Fetching a committed catalog's templates (issue 15) is bounded: any cluster key holder can commit a catalog,
 * and it may name any CID. Through the real content layer (two in-process nodes): an object larger than
 * TEMPLATE_BYTES_MAX is refused as soon as its manifest gives its size, before any chunk is asked for, and
 * nothing of it is recorded or pinned (nor is such an object held here already pinned); so is a directory once
 * its manifest is held, before anything below it; a fetch nobody can
 * serve ends at the timeout the materializer gives, not at the content layer's provider wait, and the fetch
 * itself ends with it.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { MaterializerService } from '../../src/materializer/index.js'
import { TEMPLATE_BYTES_MAX } from '../../src/materializer/core/index.js'
import { DAG_CBOR_CODE, cidOfBytesWithCodec } from '../../src/codec/index.js'
import { parseRootCid } from '../../src/content/index.js'
import { ContentCluster } from '../content/helpers.js'
import type { ContentNode } from '../content/helpers.js'
import { waitFor } from '../node/helpers.js'

const cluster = new ContentCluster()

afterEach(async () => { await cluster.close() })

const materializerOf = (services: Array<{ name: string }>): MaterializerService => services.find((s) => s.name === 'materializer') as MaterializerService

describe('template fetch through the content layer', () => {
  it('should refuse an object over the template limit once its size is known, asking for no chunk and keeping nothing', async () => {
    const [a, b] = await cluster.start(2) as [ContentNode, ContentNode]
    const m = materializerOf(a.services)
    // 2 MiB on the other node: two chunks of 1 MiB behind one manifest.
    const huge = await b.content.add(randomBytes(2 * 1024 * 1024))
    await waitFor(() => a.content.providers(huge.cidObject).length > 0, 30_000, 'a knows b provides it')
    const served = b.content.status().server as { blocksServed: number }
    await expect(m.content()!.get(huge.cid, { signal: AbortSignal.timeout(60_000) })).rejects.toHaveProperty('name', 'ObjectTooLargeError')
    // Only its manifest was carried; no record (nothing to resume at a start) and no pin.
    expect((b.content.status().server as { blocksServed: number }).blocksServed - served.blocksServed).toBeLessThanOrEqual(1)
    expect(a.content.record(huge.cidObject)).toBeUndefined()

    // Held here already, unpinned: refused without pinning it.
    const local = await a.content.add(randomBytes(TEMPLATE_BYTES_MAX + 1))
    await expect(m.content()!.get(local.cid, { signal: AbortSignal.timeout(60_000) })).rejects.toHaveProperty('name', 'ObjectTooLargeError')
    expect(a.content.record(local.cidObject)?.pinned).toBe(false)

    // A template within the limit is fetched and pinned as before.
    const text = new TextEncoder().encode('apiVersion: v1\nkind: Pod\nmetadata:\n  name: small\n')
    const small = await b.content.add(text)
    await waitFor(() => a.content.providers(small.cidObject).length > 0, 30_000, 'a knows b provides the template')
    expect(await m.content()!.get(small.cid, { signal: AbortSignal.timeout(60_000) })).toEqual(text)
    expect(a.content.record(small.cidObject)).toMatchObject({ complete: true, pinned: true })
  }, 120_000)

  it('should refuse a directory CID once its manifest is held, asking for nothing below it and keeping nothing', async () => {
    const [a, b] = await cluster.start(2) as [ContentNode, ContentNode]
    const m = materializerOf(a.services)
    // A directory well under the template limit, of one small file, on the other node.
    const file = await b.content.add(new TextEncoder().encode('apiVersion: v1\nkind: Pod\n'))
    const dir = await b.content.addDir([{ name: 'pod.yaml', cid: file.cidObject }])
    const dirCid = parseRootCid(dir.cid)
    await waitFor(() => a.content.providers(dirCid).length > 0, 30_000, 'a knows b provides the directory')
    const served = b.content.status().server as { blocksServed: number }
    await expect(m.content()!.get(dir.cid, { signal: AbortSignal.timeout(60_000) })).rejects.toHaveProperty('name', 'NotAFileError')
    // Only the directory's manifest was carried: neither it nor the file below it is recorded or pinned.
    expect((b.content.status().server as { blocksServed: number }).blocksServed - served.blocksServed).toBeLessThanOrEqual(1)
    expect(a.content.record(dirCid)).toBeUndefined()
    expect(a.content.record(file.cidObject)).toBeUndefined()

    // Held here already, unpinned: refused without pinning it.
    const localFile = await a.content.add(new TextEncoder().encode('kind: Pod\n'))
    const localDir = await a.content.addDir([{ name: 'pod.yaml', cid: localFile.cidObject }])
    await expect(m.content()!.get(localDir.cid, { signal: AbortSignal.timeout(60_000) })).rejects.toHaveProperty('name', 'NotAFileError')
    expect(a.content.record(parseRootCid(localDir.cid))?.pinned).toBe(false)
  }, 120_000)

  it('should end a template fetch nobody serves at the timeout it is given, the content fetch with it', async () => {
    const [a] = await cluster.start(1) as [ContentNode]
    const m = materializerOf(a.services)
    // A root CID (dag-cbor) nobody holds: a raw CID is no root, refused at once (raw-root.test.ts).
    const missing = cidOfBytesWithCodec(randomBytes(64), DAG_CBOR_CODE)
    const startedAtMs = Date.now()
    await expect(m.content()!.get(missing.toString(), { signal: AbortSignal.timeout(300) })).rejects.toHaveProperty('name', 'FetchAbortedError')
    // The content layer waits 30 s for a provider (PROVIDER_WAIT_MS); the caller asked for 300 ms.
    expect(Date.now() - startedAtMs).toBeLessThan(5_000)
    // No one else waits for that fetch: it ended too, and left no record.
    await waitFor(() => a.content.fetchesInProgress().length === 0, 5_000, 'the content fetch ended')
    expect(a.content.record(missing)).toBeUndefined()
  }, 60_000)
})
