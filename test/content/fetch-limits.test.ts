/**
 * A caller of ContentService.fetch bounds what it waits for (docs/CONTENT.md §6 step 2): `maxBytes` refuses an
 * object over it as soon as its manifest gives the size, `filesOnly` a directory as soon as its manifest is held,
 * `signal` ends the wait. One fetch runs per CID, so
 * each bound is the caller's own: the fetch goes on for a caller that stays, and ends (recording and pinning
 * nothing, asking for no chunk) only when no caller is left. Two in-process nodes; b holds the objects.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { DAG_CBOR_CODE, cidOfBytesWithCodec } from '../../src/codec/index.js'
import { parseRootCid } from '../../src/content/index.js'
import { ContentCluster } from './helpers.js'
import type { ContentNode } from './helpers.js'
import { waitFor } from '../node/helpers.js'

const cluster = new ContentCluster()
afterEach(async () => { await cluster.close() })

const served = (n: ContentNode): number => (n.content.status().server as { blocksServed: number }).blocksServed

describe('fetch limits per caller', () => {
  it('should refuse an object over maxBytes before any chunk, pinning nothing, and go on for a caller without a limit', async () => {
    const [a, b] = await cluster.start(2) as [ContentNode, ContentNode]
    const huge = await b.content.add(randomBytes(2 * 1024 * 1024 + 5))
    await waitFor(() => a.content.providers(huge.cidObject).length > 0, 30_000, 'a knows b provides it')

    // Alone: refused once the manifest is in (at most that one block served), no record.
    const before = served(b)
    await expect(a.content.fetch(huge.cidObject, { pin: true, maxBytes: 1024 * 1024 })).rejects.toMatchObject({ name: 'ObjectTooLargeError', message: expect.stringContaining(`${2 * 1024 * 1024 + 5} bytes`) as unknown })
    expect(served(b) - before).toBeLessThanOrEqual(1)
    expect(a.content.record(huge.cidObject)).toBeUndefined()
    expect(a.content.fetchesInProgress()).toEqual([])

    // Beside a caller without a limit: the limited (pinning) caller leaves, the fetch completes, unpinned.
    const unlimited = a.content.fetch(huge.cidObject)
    await expect(a.content.fetch(huge.cidObject, { pin: true, maxBytes: 1024 })).rejects.toHaveProperty('name', 'ObjectTooLargeError')
    expect(await unlimited).toMatchObject({ complete: true, pinned: false, size: 2 * 1024 * 1024 + 5 })

    // Held complete: refused without a pin.
    await expect(a.content.fetch(huge.cidObject, { pin: true, maxBytes: 1024 })).rejects.toHaveProperty('name', 'ObjectTooLargeError')
    expect(a.content.record(huge.cidObject)?.pinned).toBe(false)
    // Within the limit: as before.
    expect(await a.content.fetch(huge.cidObject, { pin: true, maxBytes: 4 * 1024 * 1024 })).toMatchObject({ complete: true, pinned: true })
  }, 120_000)

  it('should refuse a directory to a filesOnly caller before anything below it, pinning nothing, and go on for a caller without', async () => {
    const [a, b] = await cluster.start(2) as [ContentNode, ContentNode]
    const file = await b.content.add(randomBytes(2 * 1024 * 1024))
    const dir = await b.content.addDir([{ name: 'big', cid: file.cidObject }])
    const dirCid = parseRootCid(dir.cid)
    await waitFor(() => a.content.providers(dirCid).length > 0, 30_000, 'a knows b provides it')

    // Alone: refused once the directory's manifest is in (that one block served), no record.
    const before = served(b)
    await expect(a.content.fetch(dirCid, { pin: true, filesOnly: true })).rejects.toMatchObject({ name: 'NotAFileError', message: expect.stringContaining('is a directory') as unknown })
    expect(served(b) - before).toBeLessThanOrEqual(1)
    expect(a.content.record(dirCid)).toBeUndefined()
    expect(a.content.record(file.cidObject)).toBeUndefined()
    expect(a.content.fetchesInProgress()).toEqual([])

    // Beside a caller that takes directories: the filesOnly (pinning) caller leaves, the fetch completes, unpinned.
    const any = a.content.fetch(dirCid)
    await expect(a.content.fetch(dirCid, { pin: true, filesOnly: true })).rejects.toHaveProperty('name', 'NotAFileError')
    expect(await any).toMatchObject({ type: 'dir', complete: true, pinned: false })
    // Held complete: refused without a pin; a file is taken as before.
    await expect(a.content.fetch(dirCid, { pin: true, filesOnly: true })).rejects.toHaveProperty('name', 'NotAFileError')
    expect(a.content.record(dirCid)?.pinned).toBe(false)
    expect(await a.content.fetch(file.cidObject, { pin: true, filesOnly: true })).toMatchObject({ type: 'file', complete: true, pinned: true })
  }, 120_000)

  it('should end a caller\'s wait at its signal, and the fetch with the last caller', async () => {
    const [a] = await cluster.start(1, [{ providerWaitMs: 4_000 }]) as [ContentNode]
    // A root CID (dag-cbor) nobody holds: a raw CID is no root, refused at once (raw-root.test.ts).
    const missing = cidOfBytesWithCodec(randomBytes(64), DAG_CBOR_CODE)
    const stays = a.content.fetch(missing)
    stays.catch(() => {})
    const startedAtMs = Date.now()
    await expect(a.content.fetch(missing, { signal: AbortSignal.timeout(200) })).rejects.toHaveProperty('name', 'FetchAbortedError')
    expect(Date.now() - startedAtMs).toBeLessThan(2_000)
    // The other caller still waits: the fetch goes on, and ends at its own provider wait.
    expect(a.content.fetchesInProgress().length).toBe(1)
    await expect(stays).rejects.toHaveProperty('name', 'NoProvidersError')

    // Alone, the caller's leaving ends the fetch there.
    const alone = AbortSignal.timeout(200)
    await expect(a.content.fetch(missing, { signal: alone })).rejects.toHaveProperty('name', 'FetchAbortedError')
    await waitFor(() => a.content.fetchesInProgress().length === 0, 1_000, 'the fetch ended with its only caller')
    expect(a.content.progress(missing)?.error?.name).toBe('FetchAbortedError')
    // A signal aborted already: refused at once.
    await expect(a.content.fetch(missing, { signal: alone })).rejects.toHaveProperty('name', 'FetchAbortedError')
  }, 60_000)
})
