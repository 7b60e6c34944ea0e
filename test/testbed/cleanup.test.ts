/**
 * What the local testbed (plain processes, no --netns) stops and deletes, and what it must leave alone.
 * - A recorded pid is no proof: once a node has exited its pid may be reused by any process, which `status`
 *   then reported as the node, `kill` SIGKILLed and `down` SIGTERMed. Method: a testbed.json whose node pid is
 *   an unrelated `sleep` process (a reused pid, without waiting for the pid space to wrap).
 * - `kill` of a node that no longer runs says it killed nothing.
 * - A node the CLI spawned but had not recorded (its API had not answered) when the CLI was killed must be
 *   stopped by `down`. Method: the real CLI binary from dist/, SIGKILLed as soon as a node process runs.
 * - `up` interrupted (Ctrl-C, SIGTERM) stops and removes what it started, as a failed `up` does.
 * - `down` deletes what the testbed made, not other files of the directory given as `--dir`.
 * - A failed `up` deletes what it made, node logs included, so its error carries the end of the failed node's log.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { testbedDown, testbedKill, testbedStatus } from '../../src/testbed/index.js'
import { tempDir, waitFor } from '../node/helpers.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const MAIN = path.join(ROOT, 'dist/src/cli/main.js')
const TESTBED = path.join(ROOT, 'dist/src/testbed/index.js')
type TestbedModule = typeof import('../../src/testbed/index.js')

interface CliResult { code: number, stdout: string, stderr: string }
function cli (args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

/** Pids of the live processes (zombies aside) whose command line names `text`. */
function processesNaming (text: string): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    try {
      if (/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)
    } catch {
      return false
    }
  })
}

const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

let root = ''
const strays: number[] = []
afterEach(async () => {
  for (const pid of strays.splice(0)) {
    try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
  }
  if (root !== '') {
    // Whatever a failing case left running in its directory.
    for (const pid of processesNaming(root)) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    }
    await fs.rm(root, { recursive: true, force: true })
  }
  root = ''
}, 60_000)

describe('testbed clean-up', () => {
  it('should neither report, kill nor stop a process that only reuses a recorded node pid', async () => {
    root = await tempDir('revoada-testbed-')
    const dir = path.join(root, 'tb')
    const other = spawn('sleep', ['300'], { stdio: 'ignore' })
    const pid = other.pid as number
    strays.push(pid)
    await fs.mkdir(path.join(dir, 'n1'), { recursive: true })
    const node = { index: 1, dataDir: path.join(dir, 'n1'), pid, nodeId: '12D3KooWexample', apiUrl: 'http://127.0.0.1:9', host: '127.0.0.1' }
    await fs.writeFile(path.join(dir, 'testbed.json'), JSON.stringify({ dir, env: {}, nodes: [node] }))
    expect((await testbedStatus(dir))[0]?.running).toBe(false)
    await testbedKill(dir, 1)
    expect(alive(pid)).toBe(true)
    expect(await testbedDown(dir)).toBe(true)
    expect(alive(pid)).toBe(true)
    expect(existsSync(dir)).toBe(false)
  }, 60_000)

  it('should say that kill killed nothing when the recorded node no longer runs', async () => {
    root = await tempDir('revoada-testbed-')
    const dir = path.join(root, 'tb')
    const gone = spawn('true', [], { stdio: 'ignore' })
    await new Promise((resolve) => gone.once('exit', resolve))
    await fs.mkdir(path.join(dir, 'n1'), { recursive: true })
    const node = { index: 1, dataDir: path.join(dir, 'n1'), pid: gone.pid as number, nodeId: '12D3KooWexample', apiUrl: 'http://127.0.0.1:9', host: '127.0.0.1' }
    await fs.writeFile(path.join(dir, 'testbed.json'), JSON.stringify({ dir, env: {}, nodes: [node] }))
    expect(await testbedKill(dir, 1)).toMatchObject({ index: 1, killed: false })
    const result = await cli(['testbed', 'kill', '1', '--dir', dir])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^n1 was not running \(pid \d+ recorded\): nothing killed\n$/)
  }, 60_000)

  it.each([1, 2])('should stop with down node %i, spawned by an up that was killed before it recorded it', async (index) => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: npm run build first (npm test does)`)
    root = await tempDir('revoada-testbed-')
    const dir = path.join(root, 'tb')
    const upCli = spawn(process.execPath, [MAIN, 'testbed', 'up', '--nodes', String(index), '--dir', dir], { stdio: 'ignore' })
    const nodeDir = `${path.join(dir, `n${index}`)}\0`
    let orphans: number[] = []
    await waitFor(() => {
      orphans = processesNaming(nodeDir)
      return orphans.length > 0
    }, 120_000, `node ${index} running`)
    upCli.kill('SIGKILL')
    await new Promise((resolve) => upCli.once('exit', resolve))
    const down = await cli(['testbed', 'down', '--dir', dir])
    expect(down.code, down.stderr).toBe(0)
    await waitFor(() => orphans.every((pid) => !alive(pid)), 30_000, 'the node stopped')
    expect(processesNaming(dir)).toEqual([])
  }, 240_000)

  it('should stop and remove everything it started, and exit 130, when up is interrupted by SIGINT', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: npm run build first (npm test does)`)
    root = await tempDir('revoada-testbed-')
    const dir = path.join(root, 'tb')
    const upCli = spawn(process.execPath, [MAIN, 'testbed', 'up', '--nodes', '3', '--dir', dir], { stdio: 'ignore' })
    const exited = new Promise<[number | null, string | null]>((resolve) => upCli.once('exit', (code, signal) => resolve([code, signal])))
    let started: number[] = []
    await waitFor(() => {
      started = processesNaming(`${path.join(dir, 'n1')}\0`)
      return started.length > 0
    }, 120_000, 'node 1 running')
    // What Ctrl-C in the terminal sends it (the detached nodes are in process groups of their own).
    upCli.kill('SIGINT')
    expect(await exited).toEqual([130, null])
    expect(started.filter(alive)).toEqual([])
    expect(processesNaming(dir)).toEqual([])
    expect(existsSync(dir)).toBe(false)
  }, 240_000)

  it('should delete with down only what up made in an existing directory', async () => {
    if (!existsSync(TESTBED)) throw new Error(`${TESTBED} missing: npm run build first (npm test does)`)
    const testbed = await import(TESTBED) as TestbedModule
    root = await tempDir('revoada-testbed-')
    await fs.writeFile(path.join(root, 'notes.txt'), 'mine\n')
    const state = await testbed.testbedUp({ dir: root, count: 1 })
    expect(await testbed.testbedDown(root)).toBe(true)
    expect(alive(state.nodes[0]!.pid)).toBe(false)
    expect(readdirSync(root)).toEqual(['notes.txt'])
  }, 120_000)

  it('should give in the error of a failed up the end of the log of the node that exited, whose data dir it deleted', async () => {
    if (!existsSync(TESTBED)) throw new Error(`${TESTBED} missing: npm run build first (npm test does)`)
    const testbed = await import(TESTBED) as TestbedModule
    root = await tempDir('revoada-testbed-')
    const dir = path.join(root, 'tb')
    // Every node refuses this config and exits at once, naming the setting.
    const failed = testbed.testbedUp({ dir, count: 1, env: { REVOADA_METRICS__LISTEN: 'no-port' } })
    await expect(failed).rejects.toMatchObject({ name: 'TestbedNodeStartError', message: expect.stringMatching(/ConfigInvalidError.*metrics\.listen/s) })
    expect(existsSync(dir)).toBe(false)
  }, 120_000)
})
