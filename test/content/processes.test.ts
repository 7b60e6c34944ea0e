/**
 * Content sync between real `revoada start` processes (issue 13): a file added on one node is added by three
 * others too (the same bytes: the same CID). Of the four providers, A and B are honest, S is slow (waits 3 s
 * before each chunk it serves: TEST_ONLY_CONTENT_SERVE_DELAY_MS) and L lies (serves corrupt chunks:
 * TEST_ONLY_CONTENT_CORRUPT_SERVED_CHUNKS); both knobs work only with NODE_ENV=test. A fifth node fetches from
 * all four at once: it must write exactly the original bytes, drop and ban L for its bad chunks, keep S (slow
 * is not a fault) while taking most chunks from A and B, and announce the blob again so others can fetch it.
 * Drives everything through the CLI (`content add/get/ls/providers`). Uses dist/ (npm test builds first).
 */
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../node/helpers.js'
import { Procs, api, status, statusOrNull } from './procs.js'
import type { Progress } from './procs.js'
import { SCORE_BAN_AT_OR_BELOW } from '../../src/content/core/index.js'

/** How long the slow provider waits before each chunk it serves (an honest one takes milliseconds). */
const SLOW_SERVE_DELAY_MS = 3000
const procs = new Procs()
const cli = async (...args: string[]): Promise<string> => await procs.cli(...args)
const start = async (dir: string, join?: string, env: NodeJS.ProcessEnv = {}): Promise<void> => { await procs.start(dir, join, env) }
afterAll(async () => { await procs.close() })

describe('content between processes', () => {
  it('should fetch from four providers at once, one lying and one slow, and write exactly the added bytes', async () => {
    const root = await procs.init('revoada-content-procs-')
    const [a, b, slow, liar, f] = ['a', 'b', 'slow', 'liar', 'f'].map((n) => path.join(root, n)) as [string, string, string, string, string]
    await start(a)
    const join = (await cli('join-string', '--data-dir', a)).trim()
    await Promise.all([
      start(b, join), start(slow, join, { TEST_ONLY_CONTENT_SERVE_DELAY_MS: String(SLOW_SERVE_DELAY_MS), NODE_ENV: 'test' }),
      start(liar, join, { TEST_ONLY_CONTENT_CORRUPT_SERVED_CHUNKS: '1', NODE_ENV: 'test' }), start(f, join)
    ])
    const all = [a, b, slow, liar, f]
    await waitFor(async () => (await Promise.all(all.map(statusOrNull))).every((s) => s !== null && s.voters.length + s.learners.length === 5), 180_000, 'every node knows all five members')

    const original = randomBytes(24 * 1024 * 1024 + 333)
    const input = path.join(root, 'input.bin')
    await fs.writeFile(input, original)
    const cid = (await cli('content', 'add', input, '--data-dir', a)).trim()
    expect(cid).toMatch(/^bafyr4i/)

    // Three more providers: the same bytes added anywhere have the same CID. L will serve corrupt chunks.
    for (const dir of [b, slow, liar]) expect((await cli('content', 'add', input, '--data-dir', dir)).trim()).toBe(cid)
    const ids = await Promise.all(all.map(async (d) => (await status(d)).nodeId))
    const [aId, bId, slowId, liarId] = ids as [string, string, string, string]
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

    // Who carried the fetch: L was dropped and nothing of it was kept; S was asked and held its answers back,
    // yet most chunks came from the honest A and B, and S is neither dropped nor banned.
    const progress = await api<Progress>(f, 'GET', `/v1/content/${cid}/progress`)
    const from = (peer: string): number => progress.chunksByProvider[peer] ?? 0
    expect(progress.droppedProviders).toEqual([liarId])
    expect(from(liarId)).toBe(0)
    expect(Object.values(progress.chunksByProvider).reduce((sum, n) => sum + n, 0)).toBe(progress.chunksTotal)
    expect(from(aId) + from(bId)).toBeGreaterThan(progress.chunksTotal / 2)
    expect((await status(slow)).content.server.delayedAnswers).toBeGreaterThan(0)
    const scores = JSON.parse(await cli('content', 'providers', cid, '--json', '--data-dir', f)) as { providers: Array<{ peer: string, score: number }> }
    const scoreOf = (peer: string): number | undefined => scores.providers.find((p) => p.peer === peer)?.score
    expect(scoreOf(slowId)).toBeGreaterThan(SCORE_BAN_AT_OR_BELOW)
    expect(scoreOf(liarId)).toBeLessThanOrEqual(SCORE_BAN_AT_OR_BELOW)

    // The fetched blob is announced again: A now lists F as a complete provider.
    await waitFor(async () => {
      const providers = JSON.parse(await cli('content', 'providers', cid, '--json', '--data-dir', a)) as { providers: Array<{ peer: string, partial: boolean }> }
      return providers.providers.some((p) => p.peer === ids[4] && !p.partial)
    }, 180_000, 'a sees f as a provider')
    const ls = JSON.parse(await cli('content', 'ls', '--json', '--data-dir', f)) as { objects: Array<{ cid: string, complete: boolean }> }
    expect(ls.objects).toEqual([expect.objectContaining({ cid, complete: true })])
  }, 600_000)
})
