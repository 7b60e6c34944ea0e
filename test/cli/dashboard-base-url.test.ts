/**
 * Goal: `revoada dashboard --base-url URL` refuses a URL that is no http(s) URL as invalid input (exit 3, one line
 * naming --base-url) before it asks the node for a login link, as docs/OPERATIONS.md gives exit 3 for input the CLI
 * refuses before any request. Before (2026-12-07), it minted a one-time code before refusing one that is no URL, and
 * printed a `javascript:` or `ftp:` "link" with exit 0.
 * Method: a plain HTTP server on port 0 standing in for the node, counting the login-link requests; the built CLI
 * runs against a temp data dir whose api.json names it.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cliRun } from './helpers.js'
import { tempDir } from '../node/helpers.js'

const servers: Server[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

/** A data dir whose api.json names a server that hands out login links and counts them. */
async function fakeNode (): Promise<{ dir: string, links: () => number }> {
  let links = 0
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    if (req.method === 'POST' && req.url === '/v1/login-links') links++
    res.end(JSON.stringify({ url: 'http://127.0.0.1:1/login?code=abc', path: '/login?code=abc' }))
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const dir = await tempDir()
  dirs.push(dir)
  const port = (server.address() as AddressInfo).port
  await fs.writeFile(path.join(dir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${port}`, token: 't' }))
  return { dir, links: () => links }
}

describe('dashboard --base-url', () => {
  it('should refuse a base URL that is no http(s) URL with exit 3 before asking for a link', async () => {
    const node = await fakeNode()
    for (const base of ['notaurl', 'javascript:alert(1)', 'ftp://127.0.0.1:8080']) {
      const { code, stdout, stderr } = await cliRun(['dashboard', '--data-dir', node.dir, '--base-url', base], 60_000)
      expect({ base, code, stdout, lines: stderr.trim().split('\n').length }).toEqual({ base, code: 3, stdout: '', lines: 1 })
      expect(stderr).toContain('--base-url')
      expect(stderr).not.toContain('TypeError')
    }
    expect(node.links()).toBe(0)
    // A good one still gives the link under it.
    const ok = await cliRun(['dashboard', '--data-dir', node.dir, '--base-url', 'http://127.0.0.1:8080'], 60_000)
    expect({ code: ok.code, stdout: ok.stdout }).toEqual({ code: 0, stdout: 'http://127.0.0.1:8080/login?code=abc\n' })
  }, 120_000)
})
