/**
 * Options a parent command and its subcommand both define (`--data-dir`, `--json`) reach the subcommand wherever
 * they are placed. Commander lets the parent consume its own options even after the subcommand's name, so a
 * subcommand that read only its own options talked to `$REVOADA_DATA_DIR` or `./.revoada` — possibly another
 * cluster. Method: the built CLI runs against a stand-in admin API (an `api.json` in a temp data dir pointing
 * at a local HTTP server that records each request), so a request that arrives proves which data dir was used.
 */
import { promises as fs } from 'node:fs'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../node/helpers.js'
import { cliRun } from './helpers.js'

const TOKEN = 'subcommand-options-test-token'
const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await new Promise((resolve) => s.close(resolve)) }))
})

interface Seen { method: string, url: string, authorized: boolean, body: string }

/** A stand-in admin API in a fresh data dir: answers `POST /v1/catalog` as a committed catalog. */
async function standInNode (): Promise<{ dataDir: string, seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => { body += d.toString() })
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorized: req.headers.authorization === `Bearer ${TOKEN}`, body })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ outcome: { kind: 'applied' }, index: 42, templates: [{ name: 'etcd.yaml', cid: 'bafytest' }] }))
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const dataDir = await tempDir()
  await fs.writeFile(path.join(dataDir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${port}`, token: TOKEN }))
  return { dataDir, seen }
}

describe('revoada subcommand options', () => {
  it('should send `catalog set` to the node of --data-dir when it follows the subcommand', async () => {
    const { dataDir, seen } = await standInNode()
    const r = await cliRun(['catalog', 'set', '--role', 'etcd', '--reset', '--data-dir', dataDir])
    expect(r.stderr).toBe('')
    expect(r).toMatchObject({ code: 0, stdout: 'catalog of etcd committed at index 42\n  etcd.yaml  bafytest\n' })
    expect(seen).toEqual([{ method: 'POST', url: '/v1/catalog', authorized: true, body: JSON.stringify({ role: 'etcd', templates: [] }) }])
  })

  it('should send `catalog set` to the node of --data-dir and print JSON when both precede the subcommand', async () => {
    const { dataDir, seen } = await standInNode()
    const r = await cliRun(['catalog', '--data-dir', dataDir, '--json', 'set', '--role', 'etcd', '--reset'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: { kind: 'applied' }, index: 42 })
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /v1/catalog'])
  })

  it('should honour --json after `catalog set`', async () => {
    const { dataDir, seen } = await standInNode()
    const r = await cliRun(['catalog', 'set', '--role', 'etcd', '--reset', '--json', '--data-dir', dataDir])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ index: 42 })
    expect(seen).toHaveLength(1)
  })

  it('should send `chain export` to the node of --data-dir on either side of the subcommand', async () => {
    // `chain` is the only other group whose parent defines options; `content`, `target` and `testbed` define none.
    for (const order of [['chain', 'export', '--from', '3', '--data-dir'], ['chain', '--data-dir']]) {
      const { dataDir, seen } = await standInNode()
      const r = await cliRun([...order, dataDir, ...(order.length === 2 ? ['export', '--from', '3'] : [])])
      expect({ order, code: r.code, stderr: r.stderr }).toEqual({ order, code: 0, stderr: '' })
      expect(seen.map((s) => `${s.method} ${s.url} ${s.authorized}`)).toEqual(['GET /v1/chain/export?from=3 true'])
    }
  })
})
