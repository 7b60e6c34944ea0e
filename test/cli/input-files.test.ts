/**
 * Goal: a file argument the CLI cannot read (a directory, a missing file) is invalid input: one line naming the
 * argument and the path, exit 3, before any request. Before, `chain verify DIR` and `catalog set --file DIR`
 * printed a bare `EISDIR: illegal operation on a directory, read` (no path) with exit 1, which for `chain verify`
 * is also its "verification failed" exit; `content add MISSING` a bare `ENOENT` and `content add FIFO` exit 1.
 * Method: the built CLI against a temp dir with no node (no api.json): a command that got past its input would
 * fail with NodeNotRunningError instead.
 */
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../node/helpers.js'
import { cliRun } from './helpers.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('CLI file arguments it cannot read', () => {
  it('should refuse a directory or a missing file with exit 3 naming the path', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const missing = path.join(dir, 'missing.cbor')
    const fifo = path.join(dir, 'a-fifo')
    execFileSync('mkfifo', [fifo])
    const cases: Array<[string[], string]> = [
      [['chain', 'verify', dir], dir],
      [['chain', 'verify', missing], missing],
      [['catalog', 'set', '--role', 'etcd', '--file', dir, '--data-dir', dir], dir],
      [['catalog', 'set', '--role', 'etcd', '--file', missing, '--data-dir', dir], missing],
      // A FIFO is neither a file nor a directory: no content.
      [['content', 'add', missing, '--data-dir', dir], missing],
      [['content', 'add', fifo, '--data-dir', dir], fifo]
    ]
    const results = await Promise.all(cases.map(async ([args]) => await cliRun(args, 60_000)))
    results.forEach(({ code, stderr }, i) => {
      const [args, named] = cases[i] as [string[], string]
      expect({ args, code }).toEqual({ args, code: 3 })
      expect({ args, named: stderr.includes(named), lines: stderr.trim().split('\n').length }).toEqual({ args, named: true, lines: 1 })
    })
  }, 120_000)

  it('should refuse --reset with --file as invalid input (exit 3)', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const r = await cliRun(['catalog', 'set', '--role', 'etcd', '--reset', '--file', path.join(dir, 'x.yaml'), '--data-dir', dir], 60_000)
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('--reset takes no --file')
  })
})
