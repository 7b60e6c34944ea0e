/**
 * Goal: `revoada chain export -o PATH` that cannot write PATH (an existing directory, a missing parent) says so
 * naming `-o` and the path, exit 3, as `content get -o` does. Before (2026-12-07) it ended with a bare
 * `EISDIR`/`ENOENT` and exit 1.
 * Method: a plain HTTP server on port 0 standing in for the node's export route; the built CLI runs against a temp
 * data dir whose api.json names it.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cliRun } from './helpers.js'
import { smallTmpfs, tempDir } from '../node/helpers.js'

const servers: Server[] = []
const dirs: string[] = []
const mounts: string[] = []
afterEach(async () => {
  for (const m of mounts.splice(0)) execFileSync('umount', [m])
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('chain export -o a path it cannot write', () => {
  it('should refuse an existing directory or a missing parent with exit 3 naming it', async () => {
    const server = createServer((_req, res) => { res.setHeader('content-type', 'application/cbor'); res.end(Buffer.from([0xa0])) })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const dataDir = await tempDir()
    dirs.push(dataDir)
    await fs.writeFile(path.join(dataDir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' }))
    for (const target of [dataDir, path.join(dataDir, 'missing', 'x.cbor')]) {
      const { code, stdout, stderr } = await cliRun(['chain', 'export', '-o', target, '--data-dir', dataDir], 60_000)
      expect({ target, code, stdout }).toEqual({ target, code: 3, stdout: '' })
      expect(stderr).toContain(`-o ${target}`)
    }
    const ok = await cliRun(['chain', 'export', '-o', path.join(dataDir, 'x.cbor'), '--data-dir', dataDir], 60_000)
    expect(ok.code).toBe(0)
    expect([...await fs.readFile(path.join(dataDir, 'x.cbor'))]).toEqual([0xa0])
  }, 120_000)

  it('should keep the file that was there when the export does not fit, not leave a truncated one under its name', async (ctx) => {
    const big = Buffer.alloc(512 * 1024, 0xa0)
    const server = createServer((_req, res) => { res.setHeader('content-type', 'application/cbor'); res.end(big) })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const dataDir = await tempDir()
    dirs.push(dataDir)
    await fs.writeFile(path.join(dataDir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' }))
    const disk = await smallTmpfs(ctx, '256k', mounts)
    const target = path.join(disk, 'chain.cbor')
    await fs.writeFile(target, 'the export of yesterday')
    const { code, stdout } = await cliRun(['chain', 'export', '-o', target, '--data-dir', dataDir], 60_000)
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' })
    expect(await fs.readFile(target, 'utf8')).toBe('the export of yesterday')
    expect(await fs.readdir(disk)).toEqual(['chain.cbor'])
  }, 120_000)
})
