/**
 * Goal: an export asked to start beyond the head is the operator's mistake, not the node's: `GET
 * /v1/chain/export?from=H` with H above head + 1 answers 400 in the API's `{error, message}` shape (it answered
 * 500 "Cannot read properties of undefined"), and `revoada chain export --from H` exits 3 with one clear line.
 * `from = head + 1` stays an empty export (nothing new since the last one). Method: one real node process
 * (the built CLI), its API called with the token from `api.json`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { apiGet, readApiFile } from '../../src/api/index.js'
import { decodeChainExport } from '../../src/attestation/core/index.js'
import type { ChainSummary } from '../../src/attestation/reader.js'
import { tempDir } from '../node/helpers.js'
import { cliRun, startReady, stopChild } from '../cli/helpers.js'
import type { StartedChild } from '../cli/helpers.js'

const started: StartedChild[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map(stopChild))
})

async function exportAnswer (dataDir: string, from: number): Promise<Response> {
  const api = await readApiFile(dataDir)
  return await fetch(`${api.url}/v1/chain/export?from=${from}`, { headers: { authorization: `Bearer ${api.token}` } })
}

describe('chain export range', () => {
  it('should answer 400 and exit 3 when --from is beyond the head, and an empty export at head + 1', async () => {
    const dataDir = await tempDir()
    started.push(await startReady(dataDir))
    const { height } = await apiGet(dataDir, '/v1/chain') as ChainSummary
    expect(height).toBeGreaterThanOrEqual(1)

    // head + 1 is no mistake: an export of what came since. The head may grow meanwhile (a seal block on a
    // loaded machine), so the export holds at most the blocks appended after `height` by the time it is read.
    const next = await exportAnswer(dataDir, height + 1)
    expect(next.status).toBe(200)
    const blocks = decodeChainExport(new Uint8Array(await next.arrayBuffer()))?.blocks
    const after = (await apiGet(dataDir, '/v1/chain') as ChainSummary).height
    expect(blocks?.length).toBeLessThanOrEqual(after - height)
    if (after === height) expect(blocks).toEqual([])

    const beyond = 1_000_000
    const answer = await exportAnswer(dataDir, beyond)
    expect(answer.status).toBe(400)
    const body = await answer.json() as { error: string, message: string }
    expect(body.error).toBe('BadRequest')
    expect(body.message).toMatch(/^from=1000000 is beyond the head: this node's chain ends at height \d+/)

    const r = await cliRun(['chain', 'export', '--from', String(beyond), '--data-dir', dataDir])
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^revoada: from=1000000 is beyond the head: this node's chain ends at height \d+; export from 1 to \d+\n$/)
  }, 120_000)
})
