/**
 * Goal: `revoada dashboard --open` hands the browser opener only a link it built itself from checked parts: the
 * http scheme, a loopback host, a numeric port (api.json's URL, or --base-url) and the login path the node
 * answered (`/login?code=…`); it refuses anything else (exit 3 for --base-url, NodeNotRunningError for an answer
 * of no node) and runs no opener. Before, it passed the API's `url` field to xdg-open unchecked: a program on a
 * stale api.json's port could have it open `file:///…` or any site, and --base-url any scheme or host.
 * Method: a plain HTTP server on port 0 answering POST /v1/login-links; an `xdg-open` on PATH that records its
 * arguments to a file.
 */
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir, waitFor } from '../node/helpers.js'
import { cleanEnv, MAIN } from './helpers.js'
import type { CliResult } from './helpers.js'

const servers: Server[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

interface Bench { dir: string, apiUrl: string, opened: string, run: (args: string[]) => Promise<CliResult> }

/** A data dir whose API answers the login-link request with `link(apiUrl)`, and a recording `xdg-open`. */
async function bench (link: (apiUrl: string) => unknown): Promise<Bench> {
  const dir = await tempDir()
  dirs.push(dir)
  let apiUrl = ''
  const server = createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(link(apiUrl))) })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  await fs.writeFile(path.join(dir, 'api.json'), JSON.stringify({ url: apiUrl, token: 't' }))
  const bin = path.join(dir, 'bin')
  await fs.mkdir(bin)
  const opened = path.join(dir, 'opened.txt')
  await fs.writeFile(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$@" > "${opened}.tmp" && mv "${opened}.tmp" "${opened}"\n`, { mode: 0o755 })
  const env = { ...cleanEnv(), PATH: `${bin}:${process.env.PATH ?? ''}` }
  const run = async (args: string[]): Promise<CliResult> => await new Promise((resolve) => {
    execFile(process.execPath, [MAIN, 'dashboard', '--data-dir', dir, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
  return { dir, apiUrl, opened, run }
}

const CODE = 'AbC-_09'

describe('revoada dashboard --open', () => {
  it('should open the login link built from api.json\'s loopback URL and the answered path, whatever url the answer names', async () => {
    const b = await bench(() => ({ url: 'file:///etc/passwd', path: `/login?code=${CODE}` }))
    const r = await b.run(['--open'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${b.apiUrl}/login?code=${CODE}\n`)
    await waitFor(() => existsSync(b.opened), 10_000, 'the opener to run')
    expect(await fs.readFile(b.opened, 'utf8')).toBe(`${b.apiUrl}/login?code=${CODE}\n`)
  })

  it('should open a loopback --base-url with the answered path', async () => {
    const b = await bench((apiUrl) => ({ url: `${apiUrl}/login?code=${CODE}`, path: `/login?code=${CODE}` }))
    const r = await b.run(['--open', '--base-url', 'http://localhost:8080'])
    expect(r.code).toBe(0)
    await waitFor(() => existsSync(b.opened), 10_000, 'the opener to run')
    expect(await fs.readFile(b.opened, 'utf8')).toBe(`http://localhost:8080/login?code=${CODE}\n`)
  })

  it('should refuse to open a --base-url that is not http to a loopback host and port, with exit 3', async () => {
    const b = await bench((apiUrl) => ({ url: `${apiUrl}/login?code=${CODE}`, path: `/login?code=${CODE}` }))
    for (const base of ['http://example.com:8080', 'https://127.0.0.1:8080', 'file:///tmp/x', 'javascript:alert(1)', '-x', 'http://user@127.0.0.1:8080', 'http://127.0.0.1.example.com:8080']) {
      const r = await b.run(['--open', '--base-url', base])
      expect({ base, code: r.code, lines: r.stderr.trim().split('\n').length }).toEqual({ base, code: 3, lines: 1 })
      expect({ base, opened: existsSync(b.opened) }).toEqual({ base, opened: false })
    }
    // Printing a link to a published port on another host stays possible: only opening it is refused.
    const printed = await b.run(['--base-url', 'http://example.com:8080'])
    expect({ code: printed.code, stdout: printed.stdout }).toEqual({ code: 0, stdout: `http://example.com:8080/login?code=${CODE}\n` })
  })

  it('should refuse an answer whose path is no login path, with NodeNotRunningError and no opener', async () => {
    for (const linkPath of ['//evil.example/login?code=x', '/login?code=x&next=//evil.example', 'http://evil.example/login?code=x', '/login?code=']) {
      const b = await bench(() => ({ url: `http://evil.example${linkPath}`, path: linkPath }))
      const r = await b.run(['--open'])
      expect({ linkPath, code: r.code, stdout: r.stdout }).toEqual({ linkPath, code: 1, stdout: '' })
      expect({ linkPath, stderr: r.stderr }).toEqual({ linkPath, stderr: expect.stringContaining('no running node found') as string })
      expect({ linkPath, opened: existsSync(b.opened) }).toEqual({ linkPath, opened: false })
    }
  }, 60_000)
})
