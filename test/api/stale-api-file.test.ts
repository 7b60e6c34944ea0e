/**
 * A data dir's api.json left by a crashed node must not stop the restart, even when its port now belongs to
 * another server that answers (with 401: the recorded token is not its token; with 404 or a page that is no
 * JSON: it is no revoada node).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { apiGet, assertNotRunning } from '../../src/api/index.js'
import { tempDir } from '../node/helpers.js'

describe('assertNotRunning', () => {
  it('should treat an api.json whose port answers 401 as stale, and one that answers 200 as a running node', async () => {
    let status = 401
    const server = createServer((_req, res) => { res.statusCode = status; res.end('{}') })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const dir = await tempDir()
    try {
      const port = (server.address() as AddressInfo).port
      await fs.writeFile(path.join(dir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${port}`, token: 'old' }))
      await expect(assertNotRunning(dir)).resolves.toBeUndefined()
      status = 200
      await expect(assertNotRunning(dir)).rejects.toHaveProperty('name', 'NodeAlreadyRunningError')
    } finally {
      server.close()
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})

describe('assertNotRunning after a crash, the recorded port taken by a server that is no revoada node', () => {
  it('should treat an api.json whose port answers 404 or a page that is no JSON as stale, and say no node runs there', async () => {
    let status = 404
    let body = '<html>not found</html>'
    const server = createServer((_req, res) => { res.statusCode = status; res.setHeader('content-type', 'text/html'); res.end(body) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const dir = await tempDir()
    try {
      const port = (server.address() as AddressInfo).port
      await fs.writeFile(path.join(dir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${port}`, token: 'old' }))
      // Every revoada node serves /v1/status: a 404 there is another server (docs/OPERATIONS.md: a stale
      // api.json is simply overwritten).
      await expect(assertNotRunning(dir)).resolves.toBeUndefined()
      status = 200
      body = '<html>hello</html>'
      await expect(assertNotRunning(dir)).resolves.toBeUndefined()
      // A CLI command gets the typed error, not the JSON parser's.
      await expect(apiGet(dir, '/v1/status')).rejects.toHaveProperty('name', 'NodeNotRunningError')
    } finally {
      server.close()
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})
