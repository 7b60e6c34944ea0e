/**
 * `revoada testbed up --netns` through the real CLI binary (dist/): three nodes, each in its own network
 * namespace (checked through /proc/<pid>/ns/net, so a silent fallback to plain processes fails), converge
 * as one cluster seen through `testbed status --json` from the host; `partition 1 2` drops packets between
 * the two namespaces (a TCP connect from n1's namespace to n2 fails, to n3 succeeds) and the nodes lose
 * each other; `heal` restores both; `kill 3` is reported; `down` leaves no namespace, no host link and no
 * process behind, and a second `down` is a no-op. Also: `down` after the CLI was SIGKILLed half-way
 * through `up` removes everything, including a node it had not recorded; and `--netns` is refused with a
 * typed error when `ip` cannot be found. Needs root, `ip` and `nft` (CI has them); otherwise skipped.
 */
import { execFile, execFileSync, spawn } from 'node:child_process'
import { existsSync, promises as fs, readFileSync, readlinkSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { apiGet } from '../../src/api/index.js'
import { listNamespaces, netnsUnavailableReason } from '../../src/netns/index.js'
import { tempDir, waitFor } from '../node/helpers.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const MAIN = path.join(ROOT, 'dist/src/cli/main.js')
const unavailable = netnsUnavailableReason()
if (unavailable !== null) console.warn(`testbed --netns tests skipped: ${unavailable}`)

interface CliResult { code: number, stdout: string, stderr: string }
interface NodeRow { index: number, pid: number, running: boolean, leader: string | null, apiUrl: string, namespace?: string, dataDir: string, nodeId: string }

function cli (args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 240_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

/** Whether a TCP connection from inside namespace `ns` to `url`'s host and port opens within 3 s. */
function tcpReaches (ns: string, url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  const script = `const s = require('node:net').connect(${port}, '${hostname}', () => process.exit(0)); s.on('error', () => process.exit(1)); setTimeout(() => process.exit(1), 3000)`
  return new Promise((resolve) => { execFile('ip', ['netns', 'exec', ns, process.execPath, '-e', script], (err) => { resolve(err === null) }) })
}

const hostLinks = (): string => readFileSync('/proc/net/dev', 'utf8')
const labNamespaces = (name: string): string[] => listNamespaces().filter((ns) => ns.startsWith(`${name}-`))
/** Running, not a zombie (a killed orphan stays one until init reaps it). */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}
const namespacePids = (ns: string): number[] => {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => l !== '').map(Number)
  } catch {
    return [] // not created yet
  }
}
/** The testbed node processes (not a passing `ip` or `nft`) in namespace `ns`. */
const nodePids = (ns: string): number[] => namespacePids(ns).filter((pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node-main.js')
  } catch {
    return false
  }
})
const peersOf = async (dataDir: string): Promise<string[]> => ((await apiGet(dataDir, '/v1/status')) as { peers: string[] }).peers

let root = ''
afterEach(async () => {
  if (root !== '' && existsSync(path.join(root, 'tb'))) await cli(['testbed', 'down', '--dir', path.join(root, 'tb')])
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
  root = ''
}, 120_000)

describe('testbed --netns', () => {
  it('should refuse --netns with NetnsUnavailableError and create nothing when ip cannot be found', async () => {
    root = await tempDir('revoada-netns-')
    const dir = path.join(root, 'tb')
    const before = listNamespaces().length
    const result = await cli(['testbed', 'up', '--nodes', '1', '--netns', '--dir', dir], { ...process.env, PATH: root })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/NetnsUnavailableError: network namespaces are unavailable: (`ip` is missing|creating network namespaces needs root)/)
    expect(existsSync(path.join(dir, 'testbed.json'))).toBe(false)
    expect(listNamespaces()).toHaveLength(before)
  }, 60_000)

  it.skipIf(unavailable !== null)('should run each node in its own namespace, partition by nftables, heal, kill and leave nothing after down', async () => {
    root = await tempDir('revoada-netns-')
    const dir = path.join(root, 'tb')
    const up = await cli(['testbed', 'up', '--nodes', '3', '--netns', '--dir', dir])
    expect(up.code, up.stderr).toBe(0)
    const lab = (JSON.parse(await fs.readFile(path.join(dir, 'testbed.json'), 'utf8')) as { netns: { name: string } }).netns.name
    const status = async (): Promise<NodeRow[]> => JSON.parse((await cli(['testbed', 'status', '--json', '--dir', dir])).stdout) as NodeRow[]
    const nodes = await status()
    const [n1, n2, n3] = nodes as [NodeRow, NodeRow, NodeRow]
    // Each node process sits in a network namespace of its own, not the host's.
    const hostNet = readlinkSync('/proc/self/ns/net')
    const nodeNets = nodes.map((n) => readlinkSync(`/proc/${n.pid}/ns/net`))
    expect(new Set(nodeNets).size).toBe(3)
    expect(nodeNets).not.toContain(hostNet)
    expect(nodes.map((n) => n.namespace)).toEqual([`${lab}-n1`, `${lab}-n2`, `${lab}-n3`])
    expect(nodes.every((n) => /^http:\/\/10\.213\.\d+\.\d+:\d+$/.test(n.apiUrl))).toBe(true)
    expect(hostLinks()).toContain(`${lab}:`)
    await waitFor(async () => {
      const rows = await status()
      return rows.every((r) => r.running && r.leader !== null) && new Set(rows.map((r) => r.leader)).size === 1
    }, 180_000, 'one leader seen by all three through testbed status')
    await waitFor(async () => (await peersOf(n1.dataDir)).length === 2 && (await peersOf(n2.dataDir)).length === 2, 120_000, 'a full mesh')

    expect((await cli(['testbed', 'partition', '1', '2', '--dir', dir])).code).toBe(0)
    expect(await tcpReaches(`${lab}-n1`, n2.apiUrl)).toBe(false)
    expect(await tcpReaches(`${lab}-n1`, n3.apiUrl)).toBe(true)
    await waitFor(async () => !(await peersOf(n1.dataDir)).includes(n2.nodeId) && !(await peersOf(n2.dataDir)).includes(n1.nodeId), 120_000, 'n1 and n2 apart')
    expect((await peersOf(n3.dataDir)).sort()).toEqual([n1.nodeId, n2.nodeId].sort())
    expect((await cli(['testbed', 'heal', '--dir', dir])).code).toBe(0)
    expect(await tcpReaches(`${lab}-n1`, n2.apiUrl)).toBe(true)
    await waitFor(async () => (await peersOf(n1.dataDir)).includes(n2.nodeId), 120_000, 'n1 and n2 together again')

    expect((await cli(['testbed', 'kill', '3', '--dir', dir])).code).toBe(0)
    await waitFor(async () => (await status()).find((n) => n.index === 3)?.running === false, 30_000, 'n3 reported killed')
    expect(alive(n3.pid)).toBe(false)

    const down = await cli(['testbed', 'down', '--dir', dir])
    expect(down.code, down.stderr).toBe(0)
    expect(labNamespaces(lab)).toEqual([])
    expect(hostLinks()).not.toContain(`${lab}:`)
    expect(existsSync(dir)).toBe(false)
    for (const n of nodes) expect(alive(n.pid)).toBe(false)
    const again = await cli(['testbed', 'down', '--dir', dir])
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/nothing to remove/)
  }, 900_000)

  it.skipIf(unavailable !== null)('should remove everything with down after the CLI was killed during up, including an unrecorded node', async () => {
    root = await tempDir('revoada-netns-')
    const dir = path.join(root, 'tb')
    const upCli = spawn(process.execPath, [MAIN, 'testbed', 'up', '--nodes', '2', '--netns', '--dir', dir], { stdio: 'ignore' })
    // Killed as soon as node 1 runs in its namespace: the CLI records a node only after its API answers.
    let orphans: number[] = []
    await waitFor(async () => {
      const recorded = await fs.readFile(path.join(dir, 'testbed.json'), 'utf8').catch(() => '')
      const name = /"name": "(rvtb[0-9a-f]+)"/.exec(recorded)?.[1]
      orphans = name === undefined ? [] : nodePids(`${name}-n1`)
      return orphans.length > 0
    }, 120_000, 'node 1 running in its namespace')
    upCli.kill('SIGKILL')
    const lab = (JSON.parse(await fs.readFile(path.join(dir, 'testbed.json'), 'utf8')) as { netns: { name: string } }).netns.name
    expect(labNamespaces(lab).length).toBeGreaterThan(0)
    const down = await cli(['testbed', 'down', '--dir', dir])
    expect(down.code, down.stderr).toBe(0)
    expect(labNamespaces(lab)).toEqual([])
    expect(hostLinks()).not.toContain(`${lab}:`)
    expect(existsSync(dir)).toBe(false)
    for (const pid of orphans) expect(alive(pid)).toBe(false)
  }, 300_000)
})
