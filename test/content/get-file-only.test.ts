/**
 * `ContentService.get`, `open` and `readLocal` answer a file's bytes; a directory can never be one. Without
 * `filesOnly`, `get` and `open` of a directory CID (any member can announce one, and a catalog or a caller can
 * name it) fetched the whole tree, pinned it when asked, and only then failed, as MalformedContentError ("is a
 * directory"), blaming the content; `readLocal` (the API's `/data`) sent the directory's size as the length
 * before its stream failed. Method: two in-process nodes; b holds a directory of a 2 MiB file; a asks for the
 * directory's bytes with a pin. Expected: NotAFileError once the directory's manifest is in (at most that one
 * block carried), nothing recorded or pinned; held here, refused without a pin; `readLocal` refuses it at once.
 * Red before: the file below was fetched and pinned, and the error was MalformedContentError.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { parseRootCid } from '../../src/content/index.js'
import { GET_IN_MEMORY_BYTES_MAX } from '../../src/content/core/index.js'
import { ContentCluster } from './helpers.js'
import type { ContentNode } from './helpers.js'
import { waitFor } from '../node/helpers.js'

const cluster = new ContentCluster()
afterEach(async () => { await cluster.close() })

const served = (n: ContentNode): number => (n.content.status().server as { blocksServed: number }).blocksServed

describe('content get of a directory', () => {
  it('should refuse a directory to get, open and readLocal with NotAFileError, fetching and pinning nothing below it', async () => {
    const [a, b] = await cluster.start(2) as [ContentNode, ContentNode]
    const file = await b.content.add(randomBytes(2 * 1024 * 1024))
    const dirCid = parseRootCid((await b.content.addDir([{ name: 'big', cid: file.cidObject }])).cid)
    await waitFor(() => a.content.providers(dirCid).length > 0, 30_000, 'a knows b provides the directory')

    const before = served(b)
    await expect(a.content.get(dirCid, { pin: true })).rejects.toHaveProperty('name', 'NotAFileError')
    await expect(a.content.open(dirCid)).rejects.toHaveProperty('name', 'NotAFileError')
    // The directory's manifest at most: not the file below it.
    expect(served(b) - before).toBeLessThanOrEqual(1)
    expect(a.content.record(dirCid)).toBeUndefined()
    expect(a.content.record(file.cidObject)).toBeUndefined()

    // Held complete here: refused at once, without a pin; a file still reads.
    await expect(b.content.get(dirCid, { pin: true })).rejects.toHaveProperty('name', 'NotAFileError')
    expect(b.content.record(dirCid)?.pinned).toBe(false)
    expect(() => b.content.readLocal(dirCid)).toThrow(expect.objectContaining({ name: 'NotAFileError' }) as unknown as Error)
    expect((await b.content.get(file.cidObject)).length).toBe(2 * 1024 * 1024)
  }, 120_000)

  // `get` answers in memory, at most GET_IN_MEMORY_BYTES_MAX (64 MiB): a larger file was fetched whole (and
  // pinned when asked) before the size check refused it. Method: b holds 64 MiB + 1 byte; a gets it.
  // Red before: all 65 blocks were carried and recorded before ObjectTooLargeError.
  it('should refuse a file over GET_IN_MEMORY_BYTES_MAX to get once its manifest is in, fetching nothing of it', async () => {
    const [a, b] = await cluster.start(2) as [ContentNode, ContentNode]
    const big = await b.content.add(randomBytes(GET_IN_MEMORY_BYTES_MAX + 1))
    await waitFor(() => a.content.providers(big.cidObject).length > 0, 30_000, 'a knows b provides it')
    const before = served(b)
    await expect(a.content.get(big.cidObject, { pin: true })).rejects.toHaveProperty('name', 'ObjectTooLargeError')
    expect(served(b) - before).toBeLessThanOrEqual(1)
    expect(a.content.record(big.cidObject)).toBeUndefined()
  }, 120_000)
})
