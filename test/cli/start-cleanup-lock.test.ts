/**
 * Goal: what a failed start created in the data dir is removed while the start still holds the data dir's lock,
 * so a second start cannot take the lock in between and have its own new files removed by the first start's
 * clean-up. Before, the node released the lock when its start failed (or its first join gave up) and the CLI
 * removed the start's files after: a start racing into that window lost its identity.key and cluster.json.
 * Method: the CLI run through test/cli/unlock-probe.ts, which tries to take the lock at the moment the clean-up
 * removes identity.key; a start refused by a node answering at its api.json (NodeAlreadyRunningError), and a
 * first join whose only address is a closed port (--join-timeout 1).
 */
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeJoinString } from '../../src/net/join-string.js'
import { tempDir } from '../node/helpers.js'
import { cleanEnv, REPO } from './helpers.js'
import type { CliResult } from './helpers.js'

const PROBE = path.join(REPO, 'dist/test/cli/unlock-probe.js')
const servers: Server[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

async function probeRun (dataDir: string, args: string[]): Promise<CliResult> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [PROBE, dataDir, ...args, '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'],
      { env: cleanEnv(), timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
      })
  })
}

async function emptyDataDir (): Promise<string> {
  const dir = path.join(await tempDir(), 'node')
  dirs.push(path.dirname(dir))
  await fs.mkdir(dir)
  return dir
}

describe('a failed start\'s clean-up and the data dir lock', () => {
  it('should still hold the lock while it removes what a start refused by a running node created', async () => {
    // A node's status at the port api.json names: the start is refused after it created identity.key.
    const server = createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ nodeId: '12D3KooWother' })) })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const dataDir = await emptyDataDir()
    await fs.writeFile(path.join(dataDir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' }))
    const r = await probeRun(dataDir, ['start'])
    expect(r.stderr).toContain('NodeAlreadyRunningError')
    expect(r.stdout).toContain('PROBE: DataDirInUseError')
    expect((await fs.readdir(dataDir)).sort()).toEqual(['api.json'])
  }, 90_000)

  it('should still hold the lock while it removes what a first join that gave up created', async () => {
    const closed = createTcpServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const join = encodeJoinString({ clusterId: 'c-unreachable', key: randomBytes(32), addresses: [`/ip4/127.0.0.1/tcp/${port}`] })
    const dataDir = await emptyDataDir()
    const r = await probeRun(dataDir, ['start', '--join', join, '--join-timeout', '1'])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: expect.stringContaining('join failed') as string })
    expect(r.stdout).toContain('PROBE: DataDirInUseError')
    expect(await fs.readdir(dataDir)).toEqual([])
  }, 90_000)
})
