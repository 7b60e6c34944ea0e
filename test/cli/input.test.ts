/**
 * Mistakes the CLI catches before any request (exit 3, one clear line, no stack), `--version`, and start-up
 * failures that leave nothing in the data dir (issue 11 items 5, 6, 7, 10).
 */
import { promises as fs, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../node/helpers.js'
import { encodeJoinString } from '../../src/net/join-string.js'
import { cliRun } from './helpers.js'

const dirs: string[] = []
const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await new Promise((resolve) => s.close(resolve)) }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

async function dir (): Promise<string> {
  const d = await tempDir()
  dirs.push(d)
  return d
}

async function takenPort (): Promise<number> {
  const server = createServer()
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

describe('revoada cli input checks', () => {
  it('should print the package version', async () => {
    const pkg = JSON.parse(await fs.readFile(path.resolve('package.json'), 'utf8')) as { version: string }
    const r = await cliRun(['--version'])
    expect(r).toMatchObject({ code: 0 })
    expect(r.stdout.trim()).toBe(pkg.version)
  })

  it('should refuse bad target and proposal arguments with exit 3 before contacting any node', async () => {
    // No node runs in this data dir: had a request been made, the error would be NodeNotRunningError (exit 1).
    const d = await dir()
    const cases: Array<[string[], string]> = [
      [['target', 'set'], 'nothing to set'],
      [['target', 'set', 'ha-three', '--etcd', '5'], 'not both'],
      [['target', 'set', '--etcd', 'abc'], '--etcd: expected a whole number 1..7, got "abc"'],
      [['target', 'set', '--etcd', '2'], '--etcd 2 is even'],
      [['target', 'set', '--etcd', '9'], '1..7'],
      [['target', 'set', 'bigcluster'], 'Allowed choices are homelab, ha-three'],
      [['propose', 'promote', 'notanid', '--roles', 'etcd'], '"notanid" is not a NodeId'],
      [['propose', 'promote', '12D3KooWFgpYFkCtCYz6N7T4JxgdMc1fY7iZ7PgNzgkxgLPLSimT'], 'needs --roles'],
      [['propose', 'promote', '12D3KooWFgpYFkCtCYz6N7T4JxgdMc1fY7iZ7PgNzgkxgLPLSimT', '--roles', 'etcd,kubelet'], 'unknown role kubelet'],
      [['propose', 'restore', '12D3KooWFgpYFkCtCYz6N7T4JxgdMc1fY7iZ7PgNzgkxgLPLSimT', '--reason', 'admission'], 'Allowed choices are replacing-failed'],
      [['remove-member', 'x'], '"x" is not a NodeId'],
      [['unpin', 'notanid'], '"notanid" is not a NodeId'],
      [['unpin', '12D3KooWFgpYFkCtCYz6N7T4JxgdMc1fY7iZ7PgNzgkxgLPLSimT', '--roles', 'etcd,kubelet'], 'unknown role kubelet'],
      [['wait-ready', '--timeout', 'soon'], '--timeout: expected a positive number'],
      [['catalog', 'set', '--role', 'nope', '--reset'], '--role must be one of api-server'],
      [['catalog', 'set', '--role', 'etcd'], 'give one or more --file F'],
      [['chain', 'export', '--from', 'abc'], '--from must be a height >= 1, got abc'],
      [['start', '--api', 'foo'], '--api: expected HOST:PORT'],
      // A CID goes into the route: these reached other routes (`/v1/status/pin`) or another object's.
      [['content', 'pin', '../../status'], '"../../status" is not a content CID'],
      [['content', 'get', 'bafyr4ia3khqfurmguqfd7gxiuzq5z3htcvcz656bbeiip3pifbzznbghj4?x=/'], 'is not a content CID'],
      [['content', 'forget', 'bafyr4ia3khqfurmguqfd7gxiuzq5z3htcvcz656bbeiip3pifbzznbghj4/../gc'], 'is not a content CID'],
      [['content', 'unpin', 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'], 'is not a content CID'],
      [['content', 'providers', 'x'], '"x" is not a content CID']
    ]
    for (const [args, message] of cases) {
      const r = await cliRun([...args, '--data-dir', d])
      expect({ args, code: r.code }).toEqual({ args, code: 3 })
      expect(r.stderr).toContain(message)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    // 25 CLI processes one after another: about a second each on a loaded 2-core machine.
  }, 180_000)

  it('should fail start-up on a taken --listen or --api port, a bad or empty --join, or a file as data dir, writing nothing', async () => {
    const root = await dir()
    const d = path.join(root, 'node')
    const port = await takenPort()
    const cases: Array<[string[], string]> = [
      [['--listen', `/ip4/127.0.0.1/tcp/${port}`], `ListenAddressInUseError: the listen address /ip4/127.0.0.1/tcp/${port} is already in use`],
      [['--listen', '/ip4/127.0.0.1/tcp/0', '--api', `127.0.0.1:${port}`], `ApiPortInUseError: the admin API address 127.0.0.1:${port} is already in use`],
      [['--listen', '/ip4/127.0.0.1/tcp/0', '--join', 'revoada1:garbage'], 'JoinStringInvalidError'],
      [['--listen', '/ip4/127.0.0.1/tcp/0', '--join', ''], '--join: the join string is empty']
    ]
    for (const [args, message] of cases) {
      const r = await cliRun(['start', '--data-dir', d, ...args])
      expect({ args, code: r.code }).toEqual({ args, code: 3 })
      expect(r.stderr.trim().split('\n')).toEqual([`revoada: ${message}`.slice(0, 200)].map((m) => expect.stringContaining(m.replace(/^revoada: /, ''))))
      expect(existsSync(d)).toBe(false)
    }
    const file = path.join(root, 'file')
    await fs.writeFile(file, '')
    const r = await cliRun(['start', '--data-dir', file])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('exists and is not a directory')
  })

  it('should fail start-up on a taken metrics.listen port naming metrics.listen, not --listen, writing nothing', async () => {
    const root = await dir()
    const d = path.join(root, 'node')
    const port = await takenPort()
    const config = path.join(root, 'config.json')
    await fs.writeFile(config, JSON.stringify({ metrics: { listen: `127.0.0.1:${port}` } }))
    const r = await cliRun(['start', '--data-dir', d, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'error', '--config', config])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(`MetricsListenInUseError: the metrics listen address 127.0.0.1:${port} (metrics.listen) is already in use`)
    expect(r.stderr).not.toContain('--listen')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(existsSync(d)).toBe(false)
  })

  it('should report join progress, fail clearly after --join-timeout when no cluster peer answers, and leave no data dir', async () => {
    const root = await dir()
    const d = path.join(root, 'joiner')
    const deadPort = await takenPort()
    servers.splice(0).forEach((s) => s.close())
    const join = encodeJoinString({ clusterId: '0123456789abcdef0123456789abcdef', key: new Uint8Array(32).fill(7), addresses: [`/ip4/127.0.0.1/tcp/${deadPort}`] })
    const r = await cliRun(['start', '--data-dir', d, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'error', '--join', join, '--join-timeout', '3'], 90_000)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('joining: waiting for a cluster peer')
    expect(r.stderr).toContain('join failed: no cluster peer answered within 3 s')
    expect(existsSync(d)).toBe(false)
  })
})
