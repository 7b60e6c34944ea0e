/**
 * Goal: `revoada content get CID -o PATH` that cannot write PATH (an existing directory, a missing parent) says so
 * naming `-o` and the path, exit 3, and leaves nothing behind. Before (2026-12-07) it wrote the bytes to
 * `PATH.partial`, failed its rename (or its open) with a bare `EISDIR`/`ENOENT` and exit 1, and left `PATH.partial`
 * beside the directory (`-o /tmp` left `/tmp.partial`).
 * Method: a plain HTTP server on port 0 standing in for the node (the fetch done, one 6-byte file); the built CLI
 * runs against a temp data dir whose api.json names it.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cliRun } from './helpers.js'
import { tempDir } from '../node/helpers.js'

const CID = 'bafyr4ia3khqfurmguqfd7gxiuzq5z3htcvcz656bbeiip3pifbzznbghj4'
const servers: Server[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

async function fakeNode (): Promise<string> {
  const server = createServer((req, res) => {
    const url = req.url ?? ''
    if (url.endsWith('/data')) {
      res.setHeader('content-type', 'application/octet-stream')
      res.end('hello\n')
      return
    }
    res.setHeader('content-type', 'application/json')
    if (url.includes('/progress')) res.end(JSON.stringify({ state: 'done', bytesDone: 6, bytesTotal: 6 }))
    else if (req.method === 'GET' && url === `/v1/content/${CID}`) res.end(JSON.stringify({ cid: CID, type: 'file', size: 6, complete: true, pinned: false }))
    else res.end('{}')
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const dir = await tempDir()
  dirs.push(dir)
  await fs.writeFile(path.join(dir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' }))
  return dir
}

describe('content get -o a path it cannot write', () => {
  it('should refuse an existing directory or a missing parent with exit 3 naming it, and leave no .partial file', async () => {
    const dataDir = await fakeNode()
    const out = await tempDir()
    dirs.push(out)
    const existing = path.join(out, 'adir')
    await fs.mkdir(existing)
    for (const target of [existing, path.join(out, 'missing', 'x')]) {
      const { code, stdout, stderr } = await cliRun(['content', 'get', CID, '-o', target, '--data-dir', dataDir], 60_000)
      expect({ target, code, stdout }).toEqual({ target, code: 3, stdout: '' })
      expect(stderr).toContain(`-o ${target}`)
      expect(existsSync(`${target}.partial`)).toBe(false)
    }
    expect((await fs.readdir(out)).sort()).toEqual(['adir'])
    expect(await fs.readdir(existing)).toEqual([])
    // A path it can write still gets the bytes.
    const ok = await cliRun(['content', 'get', CID, '-o', path.join(out, 'f'), '--data-dir', dataDir], 60_000)
    expect(ok.code).toBe(0)
    expect(await fs.readFile(path.join(out, 'f'), 'utf8')).toBe('hello\n')
  }, 120_000)
})
