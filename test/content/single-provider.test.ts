/**
 * One provider, many chunks, one connection (the stall of docs/bench/content.md): a node fetches an 80 MiB
 * file (80 chunks) from its only provider, a separate `revoada start` process, and must get all of it; then
 * the provider must have released every content stream it served (a client that is done closes its stream,
 * and the server closes its end too, so no half-closed stream counts against the per-connection limit), and
 * a second fetch over the same connection must work as well.
 */
import path from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../node/helpers.js'
import { Procs, apiRaw, fetchAndWait, status, statusOrNull } from './procs.js'

const procs = new Procs()
afterAll(async () => { await procs.close() })

const MIB = 1024 * 1024

async function sha256Of (dir: string, cid: string): Promise<string> {
  const res = await apiRaw(dir, 'GET', `/v1/content/${cid}/data`, 120_000)
  if (!res.ok || res.body === null) throw new Error(`data of ${cid}: ${res.status}`)
  const hash = createHash('sha256')
  for await (const chunk of res.body) hash.update(chunk as Uint8Array)
  return hash.digest('hex')
}

describe('content from a single provider', () => {
  it('should fetch 80 chunks over one connection and leave no content stream open on the provider', async () => {
    const root = await procs.init('revoada-content-single-')
    const [a, b] = ['a', 'b'].map((n) => path.join(root, n)) as [string, string]
    await procs.start(a)
    const join = (await procs.cli('join-string', '--data-dir', a)).trim()
    await procs.start(b, join)
    await waitFor(async () => (await Promise.all([a, b].map(statusOrNull))).every((s) => s !== null && s.voters.length + s.learners.length === 2), 180_000, 'both nodes know both members')

    const files: Array<{ cid: string, sha256: string }> = []
    for (const [i, mib] of [80, 12].entries()) {
      const input = path.join(root, `input-${i}.bin`)
      const bytes = randomBytes(mib * MIB + 77)
      await fs.writeFile(input, bytes)
      files.push({ cid: (await procs.cli('content', 'add', input, '--data-dir', a)).trim(), sha256: createHash('sha256').update(bytes).digest('hex') })
    }

    for (const { cid, sha256 } of files) {
      const progress = await fetchAndWait(b, cid, 480_000)
      expect(progress.error).toBeUndefined()
      expect(progress.state).toBe('done')
      expect(await sha256Of(b, cid)).toBe(sha256)
      // Every stream the fetch opened is finished on the provider's side too.
      await waitFor(async () => {
        const server = (await status(a)).content.server
        return server.openStreams === 0 && server.connectionStreams === 0
      }, 60_000, 'the provider holding no content stream open, not even half-closed')
    }
    expect((await status(a)).content.server.blocksServed).toBeGreaterThanOrEqual(92)
  }, 900_000)
})
