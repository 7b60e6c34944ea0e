/**
 * A data dir's api.json left by a crashed node must not stop the restart, even when its port now belongs to
 * another server that answers (with 401: the recorded token is not its token; with 404 or a page that is no
 * JSON: it is no revoada node).
 */
import { createServer } from 'node:http'
import type { ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { apiGet, assertNotRunning } from '../../src/api/index.js'
import { API_ANSWER_BYTES_MAX } from '../../src/api/constants.js'
import { tempDir } from '../node/helpers.js'

/**
 * Runs `body` with a data dir whose api.json names a port another HTTP server holds (answering with `answer`),
 * then closes the server and removes the dir.
 */
async function withForeignServer (answer: (res: ServerResponse) => void, body: (dir: string) => Promise<void>): Promise<void> {
  const server = createServer((_req, res) => { answer(res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const dir = await tempDir()
  try {
    const port = (server.address() as AddressInfo).port
    await fs.writeFile(path.join(dir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${port}`, token: 'old' }))
    await body(dir)
  } finally {
    server.close()
    await fs.rm(dir, { recursive: true, force: true })
  }
}

describe('assertNotRunning', () => {
  it('should treat an api.json whose port answers 401 as stale, and one that answers a node\'s status as a running node', async () => {
    let status = 401
    await withForeignServer((res) => { res.statusCode = status; res.end(JSON.stringify({ nodeId: '12D3KooWrunning' })) }, async (dir) => {
      await expect(assertNotRunning(dir)).resolves.toBeUndefined()
      status = 200
      await expect(assertNotRunning(dir)).rejects.toHaveProperty('name', 'NodeAlreadyRunningError')
    })
  })

  // Another program took the port and answers 200 with JSON that is no node's status: before, any 200 refused the
  // start ("a node is already running") until the operator deleted api.json by hand.
  it('should treat an api.json whose port answers 200 with JSON that is no node\'s status as stale', async () => {
    let body = '{}'
    await withForeignServer((res) => { res.setHeader('content-type', 'application/json'); res.end(body) }, async (dir) => {
      for (const answer of ['{}', '[]', 'null', '{"nodeId":7}', '"12D3KooW"']) {
        body = answer
        await expect(assertNotRunning(dir), answer).resolves.toBeUndefined()
      }
    })
  })

  it('should treat an api.json whose port answers more than API_ANSWER_BYTES_MAX as stale', async () => {
    const pad = Buffer.alloc(API_ANSWER_BYTES_MAX, 0x61)
    await withForeignServer((res) => { res.on('error', () => {}); res.end(Buffer.concat([Buffer.from('{"nodeId":"12D3KooWx","pad":"'), pad, Buffer.from('"}')])) }, async (dir) => {
      await expect(assertNotRunning(dir)).resolves.toBeUndefined()
      await expect(apiGet(dir, '/v1/status')).rejects.toHaveProperty('name', 'ApiAnswerTooLargeError')
    })
  })
})

describe('assertNotRunning after a crash, the recorded port taken by a server that is no revoada node', () => {
  it('should treat an api.json whose port answers 404 or a page that is no JSON as stale, and say no node runs there', async () => {
    let status = 404
    let page = '<html>not found</html>'
    await withForeignServer((res) => { res.statusCode = status; res.setHeader('content-type', 'text/html'); res.end(page) }, async (dir) => {
      // Every revoada node serves /v1/status: a 404 there is another server (docs/OPERATIONS.md: a stale
      // api.json is simply overwritten).
      await expect(assertNotRunning(dir)).resolves.toBeUndefined()
      status = 200
      page = '<html>hello</html>'
      await expect(assertNotRunning(dir)).resolves.toBeUndefined()
      // A CLI command gets the typed error, not the JSON parser's.
      await expect(apiGet(dir, '/v1/status')).rejects.toHaveProperty('name', 'NodeNotRunningError')
    })
  })
})
