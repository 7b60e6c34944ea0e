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
import { TEMPLATE_BYTES_MAX } from '../../src/materializer/core/index.js'

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

/**
 * Goal: a file the CLI reads whole is bounded: `catalog set --file` refuses one larger than a template may be
 * (TEMPLATE_BYTES_MAX) with one line naming the file and the limit, exit 3, before any request. Before, it read
 * any file whole (a multi-gigabyte image given by mistake, /dev/zero) and only the node refused the template.
 * Method: a file one byte over the limit, and a data dir with no node: a command that got past its input fails
 * with NodeNotRunningError instead (exit 1).
 */
describe('CLI file arguments over their size limit', () => {
  it('should refuse a template file larger than TEMPLATE_BYTES_MAX with exit 3 naming the file and the limit', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const big = path.join(dir, 'big.yaml')
    await fs.writeFile(big, Buffer.alloc(TEMPLATE_BYTES_MAX + 1, 0x61))
    const atLimit = path.join(dir, 'ok.yaml')
    await fs.writeFile(atLimit, Buffer.alloc(TEMPLATE_BYTES_MAX, 0x61))
    const r = await cliRun(['catalog', 'set', '--role', 'etcd', '--file', atLimit, '--file', big, '--data-dir', dir], 60_000)
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(big)
    expect(r.stderr).toContain(String(TEMPLATE_BYTES_MAX))
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    // A file at the limit is read; the command then looks for the node.
    const ok = await cliRun(['catalog', 'set', '--role', 'etcd', '--file', atLimit, '--data-dir', dir], 60_000)
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 1, stderr: expect.stringContaining('no running node found') as string })
  }, 120_000)
})
