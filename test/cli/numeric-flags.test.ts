/**
 * Goal: every numeric argument of the CLI takes decimal digits only, and a bad one is invalid input (exit 3) —
 * `testbed` included. Before, `wait-ready --voters` and the testbed's `--nodes` and node numbers went through
 * `Number()`, so `0x3`, ` 3` and `3.0` were taken as 3 (so were `chain export --from` and the seconds of
 * `--timeout`), and the testbed's argument errors (`kill 0`, `--nodes 0`,
 * a node it does not have, `partition 1 1`) exited 1, the code of an operating error.
 * Method: the built CLI with no node and no testbed running: an argument that got through fails later with exit 1
 * (no api.json, no testbed.json, or the testbed recorded in the directory).
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../node/helpers.js'
import { cliRun } from './helpers.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

/** A directory whose testbed.json records one node that runs no more (pid 2^22 + 1 is above Linux's pid_max). */
async function recordedTestbed (): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir)
  const node = { index: 1, dataDir: path.join(dir, 'n1'), pid: 4_194_305, nodeId: '12D3KooWgone', apiUrl: 'http://127.0.0.1:9', host: '127.0.0.1' }
  await fs.writeFile(path.join(dir, 'testbed.json'), JSON.stringify({ dir, env: {}, nodes: [node] }))
  return dir
}

describe('numeric CLI arguments', () => {
  it('should refuse a number that is not decimal digits, and a testbed argument error, with exit 3', async () => {
    const dir = await recordedTestbed()
    const cases: string[][] = [
      ...['0x3', ' 3', '3.0', '1e1', '+3'].map((n) => ['wait-ready', '--timeout', '0.5', '--voters', n, '--data-dir', dir]),
      ...['0x3', ' 3', '3.0', '0', '33'].map((n) => ['testbed', 'up', '--nodes', n, '--dir', dir]),
      ...['0x1', ' 1', '1.0', '0'].map((n) => ['testbed', 'kill', n, '--dir', dir]),
      ['testbed', 'partition', '0x1', '1', '--dir', dir],
      ['testbed', 'kill', '9', '--dir', dir],
      ['testbed', 'partition', '1', '1', '--dir', dir],
      ...['0x10', ' 5', '5.0'].map((n) => ['chain', 'export', '--from', n, '--data-dir', dir]),
      ...['0x1', '1e0', ' 1'].map((n) => ['wait-ready', '--timeout', n, '--data-dir', dir])
    ]
    const results = await Promise.all(cases.map(async (args) => ({ args, ...await cliRun(args, 60_000) })))
    for (const { args, code, stderr } of results) {
      expect({ args, code }).toEqual({ args, code: 3 })
      expect({ args, lines: stderr.trim().split('\n').length }).toEqual({ args, lines: 1 })
    }
  }, 120_000)
})
