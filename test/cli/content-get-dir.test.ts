/**
 * Goal: `revoada content get CID` of a directory without `-o DIR` is refused (exit 3, "is a directory: give -o
 * DIR") once the directory's manifest is in, before anything below it is fetched, recorded or pinned. Before
 * (2026-12-08), the node fetched the whole tree (and pinned it with `--pin`), and only then did the CLI learn from
 * the record that it was a directory.
 * Method: two in-process nodes, b holding a directory of one 2 MiB file; the built CLI runs `content get` against
 * a's api.json. b's content server counts the blocks it served: the directory's manifest at most.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseRootCid } from '../../src/content/index.js'
import { ContentCluster } from '../content/helpers.js'
import type { ContentNode } from '../content/helpers.js'
import { waitFor } from '../node/helpers.js'
import { cliRun, scratchSpace } from './helpers.js'

const cluster = new ContentCluster()
const { newDir } = scratchSpace()
afterEach(async () => { await cluster.close() })

const served = (n: ContentNode): number => (n.content.status().server as { blocksServed: number }).blocksServed

describe('content get of a directory without -o DIR', () => {
  it('should be refused once its manifest is in, fetching, recording and pinning nothing below it', async () => {
    const [a, b] = await cluster.start(2) as [ContentNode, ContentNode]
    const file = await b.content.add(randomBytes(2 * 1024 * 1024))
    const dir = await b.content.addDir([{ name: 'big', cid: file.cidObject }])
    const dirCid = parseRootCid(dir.cid)
    await waitFor(() => a.content.providers(dirCid).length > 0, 60_000, 'a knows b provides the directory')

    const before = served(b)
    for (const extra of [[], ['--pin']]) {
      const { code, stdout, stderr } = await cliRun(['content', 'get', dir.cid, ...extra, '--data-dir', a.dir], 120_000)
      expect({ extra, code, stdout }).toEqual({ extra, code: 3, stdout: '' })
      expect(stderr).toContain(`${dir.cid} is a directory: give -o DIR`)
    }
    // The manifest is all that was carried (once per get at most); the file's chunks were never asked for.
    expect(served(b) - before).toBeLessThanOrEqual(2)
    expect(a.content.record(dirCid)).toBeUndefined()
    expect(a.content.record(file.cidObject)).toBeUndefined()

    // With -o DIR the tree is fetched and written as before; held, a get without -o is still refused.
    const out = path.join(await newDir(), 'tree')
    const got = await cliRun(['content', 'get', dir.cid, '-o', out, '--data-dir', a.dir], 120_000)
    expect({ code: got.code, stderr: got.stderr }).toEqual({ code: 0, stderr: '' })
    expect((await fs.stat(path.join(out, 'big'))).size).toBe(2 * 1024 * 1024)
    const held = await cliRun(['content', 'get', dir.cid, '--data-dir', a.dir], 120_000)
    expect({ code: held.code, stdout: held.stdout }).toEqual({ code: 3, stdout: '' })
    expect(held.stderr).toContain('is a directory: give -o DIR')
  }, 300_000)

  /**
   * Goal: a fetch that failed leaves no verdict that outlives the object: once it is held complete (added here
   * since), `content get` writes it. Before (2026-12-08), the failed fetch's progress was answered first, so the
   * get failed with that old error (here NoProvidersError, exit 1) though the node held every byte.
   * Method: one node; a fetch of a CID nobody provides fails, then the same bytes are added here.
   */
  it('should write an object added here after a fetch of it failed', async () => {
    const [a] = await cluster.start(1, [{ providerWaitMs: 500 }]) as [ContentNode]
    const bytes = randomBytes(4096)
    const cid = parseRootCid((await a.content.add(bytes)).cid)
    // Forgotten and collected: the CID is known, the bytes gone, so its fetch finds no provider.
    await a.content.forget(cid)
    await a.content.gc()
    await expect(a.content.fetch(cid)).rejects.toHaveProperty('name', 'NoProvidersError')
    expect(a.content.progress(cid)?.state).toBe('failed')
    await a.content.add(bytes)
    const out = path.join(await newDir(), 'file')
    const got = await cliRun(['content', 'get', cid.toString(), '-o', out, '--data-dir', a.dir], 120_000)
    expect({ code: got.code, stderr: got.stderr }).toEqual({ code: 0, stderr: '' })
    expect(Buffer.compare(await fs.readFile(out), bytes)).toBe(0)
  }, 120_000)
})
