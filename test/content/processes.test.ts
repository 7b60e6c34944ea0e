/**
 * Content sync between real `revoada start` processes (issue 13): a file added on one node is fetched by
 * three others (by adding the same bytes: same CID); one of them (L) serves corrupt chunks (TEST_ONLY_CONTENT_CORRUPT_SERVED_CHUNKS with
 * NODE_ENV=test). A fifth node fetches from all four providers at once: it must write exactly the original
 * bytes, score L down for its bad chunks, and announce the blob again so others can fetch from it.
 * Drives everything through the CLI (`content add/get/ls/providers`). Uses dist/ (npm test builds first).
 */
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../node/helpers.js'
import { Procs, status, statusOrNull } from './procs.js'

const procs = new Procs()
const cli = async (...args: string[]): Promise<string> => await procs.cli(...args)
const start = async (dir: string, join?: string, env: NodeJS.ProcessEnv = {}): Promise<void> => { await procs.start(dir, join, env) }
afterAll(async () => { await procs.close() })

describe('content between processes', () => {
  it('should fetch from four providers at once, one lying, and write exactly the added bytes', async () => {
    const root = await procs.init('revoada-content-procs-')
    const [a, b, c, liar, f] = ['a', 'b', 'c', 'liar', 'f'].map((n) => path.join(root, n)) as [string, string, string, string, string]
    await start(a)
    const join = (await cli('join-string', '--data-dir', a)).trim()
    await Promise.all([start(b, join), start(c, join), start(liar, join, { TEST_ONLY_CONTENT_CORRUPT_SERVED_CHUNKS: '1', NODE_ENV: 'test' }), start(f, join)])
    const all = [a, b, c, liar, f]
    await waitFor(async () => (await Promise.all(all.map(statusOrNull))).every((s) => s !== null && s.voters.length + s.learners.length === 5), 180_000, 'every node knows all five members')

    const original = randomBytes(24 * 1024 * 1024 + 333)
    const input = path.join(root, 'input.bin')
    await fs.writeFile(input, original)
    const cid = (await cli('content', 'add', input, '--data-dir', a)).trim()
    expect(cid).toMatch(/^bafyr4i/)

    // Three more providers: the same bytes added anywhere have the same CID. L will serve corrupt chunks.
    for (const dir of [b, c, liar]) expect((await cli('content', 'add', input, '--data-dir', dir)).trim()).toBe(cid)
    const ids = await Promise.all(all.map(async (d) => (await status(d)).nodeId))
    const liarId = ids[3] as string
    await waitFor(async () => {
      const providers = JSON.parse(await cli('content', 'providers', cid, '--json', '--data-dir', f)) as { providers: Array<{ peer: string, partial: boolean }> }
      return providers.providers.filter((p) => !p.partial).length >= 4
    }, 180_000, 'f knows four complete providers')

    const output = path.join(f, 'out.bin')
    await cli('content', 'get', cid, '-o', output, '--data-dir', f)
    // Nothing but the added bytes reached the output file, though L sent corrupt chunks.
    expect((await fs.readFile(output)).equals(original)).toBe(true)
    const fStatus = await status(f)
    const liarScore = fStatus.content.scores.find((s) => s.peer === liarId)
    expect((await status(liar)).content.server.blocksServed).toBeGreaterThan(0)
    expect(liarScore?.badChunks).toBeGreaterThanOrEqual(1)
    expect(fStatus.content.scores.filter((s) => s.badChunks > 0).map((s) => s.peer)).toEqual([liarId])

    // The fetched blob is announced again: A now lists F as a complete provider.
    await waitFor(async () => {
      const providers = JSON.parse(await cli('content', 'providers', cid, '--json', '--data-dir', a)) as { providers: Array<{ peer: string, partial: boolean }> }
      return providers.providers.some((p) => p.peer === ids[4] && !p.partial)
    }, 180_000, 'a sees f as a provider')
    const ls = JSON.parse(await cli('content', 'ls', '--json', '--data-dir', f)) as { objects: Array<{ cid: string, complete: boolean }> }
    expect(ls.objects).toEqual([expect.objectContaining({ cid, complete: true })])
  }, 600_000)
})
