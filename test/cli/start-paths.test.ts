/**
 * Goal: `revoada start` given a path it cannot use — a `--log-file` that is a directory or in a directory that
 * does not exist, a `--data-dir` below a file — fails with one line naming the flag and the path and exit 3
 * (invalid input), and leaves nothing behind. Before, the log file gave a bare `EISDIR: illegal operation on a
 * directory` / `ENOENT` with exit 1, and the data dir a bare `ENOTDIR: not a directory, lstat …` with exit 1:
 * the clean-up of what the failed start had created threw over the start's own error. Likewise an address that is
 * not this host's (`--listen`, `--api`): it was reported as a port already in use.
 * Method: the built CLI in a temp dir; each start fails before it binds anything.
 */
import { promises as fs, existsSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cliRun } from './helpers.js'
import { tempDir } from '../node/helpers.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

async function root (): Promise<string> {
  const d = await tempDir()
  dirs.push(d)
  return d
}

async function start (dataDir: string, extra: string[]): Promise<{ code: number, stderr: string }> {
  return await cliRun(['start', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', ...extra], 60_000)
}

describe('revoada start with paths and addresses it cannot use', () => {
  it('should refuse a --log-file that is a directory or whose directory is missing with exit 3 naming it', async () => {
    const r = await root()
    const dataDir = path.join(r, 'node')
    for (const logFile of [r, path.join(r, 'missing', 'node.log')]) {
      const { code, stderr } = await start(dataDir, ['--log-file', logFile])
      expect({ logFile, code }).toEqual({ logFile, code: 3 })
      expect(stderr).toContain(`--log-file ${logFile}`)
      expect(stderr.trim().split('\n')).toHaveLength(1)
      expect(existsSync(dataDir)).toBe(false)
    }
  })

  it('should refuse a --data-dir below a file with exit 3 naming it', async () => {
    const r = await root()
    const file = path.join(r, 'a-file')
    await fs.writeFile(file, 'x')
    const dataDir = path.join(file, 'node')
    const { code, stderr } = await start(dataDir, [])
    expect(code).toBe(3)
    expect(stderr).toContain(`--data-dir ${dataDir}`)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(await fs.readFile(file, 'utf8')).toBe('x')
  })

  // 192.0.2.1 is TEST-NET-1 (RFC 5737): an address of no host here. Binding it fails with EADDRNOTAVAIL, which was
  // reported as a port already in use; a non-loopback --api was said to be in use before its refusal.
  it('should name an address that is not this host\'s as such, not as in use', async () => {
    const r = await root()
    const dataDir = path.join(r, 'node')
    const listen = await cliRun(['start', '--data-dir', dataDir, '--listen', '/ip4/192.0.2.1/tcp/4000'], 60_000)
    expect(listen.code).toBe(3)
    expect(listen.stderr).toContain('--listen /ip4/192.0.2.1/tcp/4000')
    expect(listen.stderr).not.toContain('already in use')
    const refused = await start(dataDir, ['--api', '192.0.2.1:8080'])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('ApiBindRefusedError')
    const config = path.join(r, 'config.json')
    await fs.writeFile(config, JSON.stringify({ api: { allowNonLoopback: true } }))
    const allowed = await start(dataDir, ['--api', '192.0.2.1:8080', '--config', config])
    expect(allowed.code).toBe(3)
    expect(allowed.stderr).toContain('--api 192.0.2.1:8080')
    expect(allowed.stderr).not.toContain('already in use')
    expect(existsSync(dataDir)).toBe(false)
  })
})
