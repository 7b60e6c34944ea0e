/**
 * @module testbed/testbed
 * The local testbed: N revoada nodes as processes on this machine, the same topology as the compose file
 * (node 1 creates the cluster, the others join it). State lives in `<dir>/testbed.json`; every command
 * reads it, so `up` returns and later commands steer the running nodes:
 * `status`, `kill I` (SIGKILL), `restart I`, `partition I J` (each stops reaching the other), `heal`,
 * `down` (SIGTERM, then SIGKILL; removes what `up` made). With `netns` (root), each node runs in its own
 * network namespace and partitions are nftables drops there (testbed/netns-mode.ts); otherwise the nodes
 * share loopback and partitions go through each node's connection gater (a faults file it polls).
 */
import { spawn } from 'node:child_process'
import { existsSync, openSync, closeSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { apiGet, apiRequest, checkAnswer, readApiFile } from '../api/index.js'
import {
  EXIT_FILE_NAME, FAULTS_FILE_NAME, NODE_DIR_NAME_PATTERN, NODE_LOG_TAIL_CHARS_MAX, NODE_START_TIMEOUT_MS, NODE_STOP_TIMEOUT_MS, POLL_MS, TESTBED_FILE_NAME, TESTBED_NODES_MAX
} from './constants.js'
import { REVOADA_BIN_NODE_FLAGS } from '../cli/node-flags.js'
import {
  TestbedArgumentError, TestbedExistsError, TestbedInterruptedError, TestbedNodeStartError, TestbedNodeStopError, TestbedNotRunningError
} from './errors.js'
import { NetLab, assertNetnsAvailable } from '../netns/index.js'
import type { LabPlan } from '../netns/index.js'
import { commandIn, placementOf, planTestbedLab } from './netns-mode.js'
import type { NodePlacement } from './netns-mode.js'
import { steadyNowMs } from '../util/clock.js'
import { EXIT_CODE_REMOVED } from '../consensus/member-removal.js'
import { REMOVED_FILE_NAME } from '../consensus/removal-record.js'
import { nodePidsIn, nodeRuns, processAlive } from './processes.js'

const NODE_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node-main.js')

export interface TestbedNode {
  index: number
  dataDir: string
  pid: number
  nodeId: string
  apiUrl: string
  /** The address the node's API and libp2p bind (127.0.0.1, or its lab address with --netns). */
  host: string
  /** With --netns: the node's network namespace. */
  namespace?: string
}

export interface TestbedState {
  dir: string
  /** Extra environment of every node process (REVOADA_* config), kept for restarts. */
  env: Record<string, string>
  nodes: TestbedNode[]
  /** With --netns: the lab, recorded before any of it is created (so `down` can remove all of it). */
  netns?: LabPlan
}

/**
 * How a node's process stands: running; or, gone, how it ended, from the exit code it recorded
 * (EXIT_FILE_NAME): `removed` (exit 6, EXIT_CODE_REMOVED), `left` (exit 0 with removed.json saying it left),
 * `stopped` (exit 0 otherwise: a SIGTERM, a quorum recovery), `exited` (any other code); `killed` when it
 * recorded none (a SIGKILL, a crash).
 */
export type TestbedNodeState = 'running' | 'removed' | 'left' | 'stopped' | 'exited' | 'killed'

/** What `status` reports per node. */
export interface TestbedNodeStatus extends TestbedNode {
  running: boolean
  state: TestbedNodeState
  /** The exit code the node's process recorded; null while it runs and when it recorded none. */
  exitCode: number | null
  role: string | null
  term: number | null
  leader: string | null
  roles: string[]
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Env for node processes: the caller's plus `extra`, minus REVOADA_DATA_DIR (each node has its own). */
function nodeEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra }
  delete env.REVOADA_DATA_DIR
  return env
}

interface NodeLaunch {
  index: number
  dataDir: string
  placement: NodePlacement
  join?: string
  env: Record<string, string>
  /** Aborted with the signal's name when `up` is interrupted: the wait for the node's API ends. */
  signal?: AbortSignal
}

/** @throws TestbedInterruptedError when `signal` is aborted (its reason is the signal's name) */
function checkInterrupted (signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new TestbedInterruptedError(String(signal.reason))
}

/** Spawns node `index` detached (it outlives the CLI), logging to `<data-dir>/node.log`. */
async function spawnNode (launch: NodeLaunch): Promise<TestbedNode> {
  const { index, dataDir, placement } = launch
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 })
  await fs.rm(path.join(dataDir, 'api.json'), { force: true })
  await fs.rm(path.join(dataDir, EXIT_FILE_NAME), { force: true })
  const logFd = openSync(path.join(dataDir, 'node.log'), 'a')
  const [command, args] = commandIn(placement, [process.execPath, ...REVOADA_BIN_NODE_FLAGS, NODE_MAIN, dataDir, placement.host, ...(launch.join !== undefined ? [launch.join] : [])])
  const child = spawn(command, args, { detached: true, stdio: ['ignore', logFd, logFd], env: nodeEnv(launch.env) })
  closeSync(logFd)
  child.unref()
  const pid = child.pid
  if (pid === undefined) throw new TestbedNodeStartError(index, 'spawn gave no pid')
  const deadline = steadyNowMs() + NODE_START_TIMEOUT_MS
  for (;;) {
    checkInterrupted(launch.signal)
    if (!processAlive(pid)) throw new TestbedNodeStartError(index, `process exited; the end of its log:\n${await logEnd(dataDir)}`)
    try {
      const status = checkAnswer(dataDir, '/v1/status', await apiGet(dataDir, '/v1/status'), { nodeId: 'string' }) as { nodeId: string }
      const api = await readApiFile(dataDir)
      return { index, dataDir, pid, nodeId: status.nodeId, apiUrl: api.url, ...placement }
    } catch {
      if (steadyNowMs() > deadline) throw new TestbedNodeStartError(index, `no API answer within ${NODE_START_TIMEOUT_MS} ms; the end of its log:\n${await logEnd(dataDir)}`)
      await sleep(POLL_MS)
    }
  }
}

/** The end of node `dataDir`'s log, whole lines, for an error: a failed `up` deletes the log with the data dir. */
async function logEnd (dataDir: string): Promise<string> {
  const text = (await fs.readFile(path.join(dataDir, 'node.log'), 'utf8').catch(() => '')).trimEnd()
  if (text.length <= NODE_LOG_TAIL_CHARS_MAX) return text
  const end = text.slice(-NODE_LOG_TAIL_CHARS_MAX)
  return end.slice(end.indexOf('\n') + 1)
}

async function save (state: TestbedState): Promise<void> {
  const file = path.join(state.dir, TESTBED_FILE_NAME)
  await fs.writeFile(file + '.tmp', JSON.stringify(state, null, 2) + '\n', { mode: 0o600 })
  await fs.rename(file + '.tmp', file)
}

/** @throws TestbedNotRunningError when `dir` holds no testbed */
export async function loadTestbed (dir: string): Promise<TestbedState> {
  try {
    const state = JSON.parse(await fs.readFile(path.join(dir, TESTBED_FILE_NAME), 'utf8')) as TestbedState
    if (!Array.isArray(state.nodes)) throw new Error('no nodes')
    return { ...state, dir }
  } catch (err) {
    throw new TestbedNotRunningError(dir, (err as Error).message)
  }
}

function nodeAt (state: TestbedState, index: number): TestbedNode {
  const node = state.nodes.find((n) => n.index === index)
  if (node === undefined) throw new TestbedArgumentError(`no node ${index}: this testbed has nodes 1..${state.nodes.length}`)
  return node
}

/** The lab of a --netns testbed (names only: nothing is created). */
const labOf = (state: TestbedState): NetLab | undefined => state.netns !== undefined ? new NetLab(state.netns) : undefined

/** The lab of a --netns testbed that this process is about to change. @throws NetnsUnavailableError */
function labToSteer (state: TestbedState): NetLab | undefined {
  const lab = labOf(state)
  if (lab !== undefined) assertNetnsAvailable()
  return lab
}

/**
 * Starts `count` nodes in `dir`: node 1 creates the cluster, the others join with its join string;
 * with `target`, sets that target topology once all are up; `env` adds REVOADA_* config to every node;
 * with `netns`, each node runs in its own network namespace (root, `ip` and `nft` needed). `signal` aborted (the
 * CLI aborts it on SIGINT and SIGTERM, with the signal's name as reason) stops it between steps.
 * Whatever fails or is interrupted, everything started so far is stopped and removed (`testbedDown`).
 *
 * @throws TestbedArgumentError, TestbedExistsError, TestbedNodeStartError, TestbedInterruptedError, NetnsUnavailableError (before anything is created), NetnsCommandError
 */
export async function testbedUp (init: { dir: string, count: number, target?: string, env?: Record<string, string>, netns?: boolean, signal?: AbortSignal }): Promise<TestbedState> {
  const { dir, count } = init
  if (!Number.isInteger(count) || count < 1 || count > TESTBED_NODES_MAX) throw new TestbedArgumentError(`--nodes must be 1..${TESTBED_NODES_MAX}, got ${count}`)
  if (init.netns === true) assertNetnsAvailable()
  const existing = await loadTestbed(dir).catch(() => undefined)
  if (existing !== undefined) throw new TestbedExistsError(dir)
  await fs.mkdir(dir, { recursive: true })
  const state: TestbedState = { dir: path.resolve(dir), env: init.env ?? {}, nodes: [] }
  try {
    if (init.netns === true) state.netns = planTestbedLab(count)
    // Recorded before anything is created or spawned, so `down` finds what an `up` that failed or was killed left.
    await save(state)
    labOf(state)?.setup()
    const launch = (index: number, join?: string): Promise<TestbedNode> => spawnNode({
      index, dataDir: path.join(state.dir, `n${index}`), placement: placementOf(labOf(state), index), env: state.env,
      ...(join !== undefined ? { join } : {}), ...(init.signal !== undefined ? { signal: init.signal } : {})
    })
    const first = await launch(1)
    state.nodes.push(first)
    await save(state)
    const { joinString } = checkAnswer(first.dataDir, '/v1/join-string', await apiGet(first.dataDir, '/v1/join-string'), { joinString: 'string' }) as { joinString: string }
    for (let i = 2; i <= count; i++) {
      state.nodes.push(await launch(i, joinString))
      await save(state)
    }
    checkInterrupted(init.signal)
    if (init.target !== undefined) await apiRequest(first.dataDir, 'POST', '/v1/target', { preset: init.target }, 30_000)
    checkInterrupted(init.signal)
    return state
  } catch (err) {
    await testbedDown(state.dir).catch(() => {})
    throw err
  }
}

/** The exit code node `node`'s process recorded as it exited; undefined when this pid recorded none. */
async function recordedExitCode (node: TestbedNode): Promise<number | undefined> {
  let record: { pid?: unknown, exitCode?: unknown }
  try {
    record = JSON.parse(await fs.readFile(path.join(node.dataDir, EXIT_FILE_NAME), 'utf8')) as typeof record
  } catch {
    return undefined
  }
  // Another pid's record is an earlier process's (restart spawns a new one); a code outside 0..255 is no exit code.
  if (record === null || record.pid !== node.pid) return undefined
  const code = record.exitCode
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 255 ? code : undefined
}

/** How the process of `node`, no longer running, ended (TestbedNodeState). */
async function endOf (node: TestbedNode): Promise<{ state: TestbedNodeState, exitCode: number | null }> {
  const exitCode = await recordedExitCode(node)
  if (exitCode === undefined) return { state: 'killed', exitCode: null }
  if (exitCode === EXIT_CODE_REMOVED) return { state: 'removed', exitCode }
  if (exitCode !== 0) return { state: 'exited', exitCode }
  const removal = await fs.readFile(path.join(node.dataDir, REMOVED_FILE_NAME), 'utf8').then((text) => JSON.parse(text) as unknown, () => undefined)
  const left = typeof removal === 'object' && removal !== null && (removal as { how?: unknown }).how === 'left'
  return { state: left ? 'left' : 'stopped', exitCode }
}

/** Each node's process (how it ended, when it no longer runs) and, when it answers, its Raft view and committed roles. */
export async function testbedStatus (dir: string): Promise<TestbedNodeStatus[]> {
  const state = await loadTestbed(dir)
  return await Promise.all(state.nodes.map(async (node) => {
    const running = nodeRuns(node.pid, node.dataDir)
    let status: Record<string, unknown> = {}
    if (running) status = await (apiGet(node.dataDir, '/v1/status') as Promise<Record<string, unknown>>).catch(() => ({}))
    return {
      ...node,
      running,
      ...(running ? { state: 'running' as const, exitCode: null } : await endOf(node)),
      role: typeof status.role === 'string' ? status.role : null,
      term: typeof status.term === 'number' ? status.term : null,
      leader: typeof status.leader === 'string' ? status.leader : null,
      roles: Array.isArray(status.roles) ? status.roles as string[] : []
    }
  }))
}

/**
 * SIGKILLs node `index` (no graceful leave: peers must detect it) and returns once its process is gone, so a
 * `restart` right after finds the data dir free; `killed` is false when it was not running.
 * @throws TestbedNodeStopError when it still runs NODE_STOP_TIMEOUT_MS after the signal
 */
export async function testbedKill (dir: string, index: number): Promise<TestbedNode & { killed: boolean }> {
  const node = nodeAt(await loadTestbed(dir), index)
  const killed = nodeRuns(node.pid, node.dataDir)
  if (killed) {
    process.kill(node.pid, 'SIGKILL')
    // NB: a SIGKILL is delivered, not done: until the process has exited it holds its data-dir lock, and a
    // restart right after was refused with DataDirInUseError.
    if ((await stillAliveAfter([node.pid], NODE_STOP_TIMEOUT_MS)).length > 0) {
      throw new TestbedNodeStopError(`n${index} (pid ${node.pid})`, NODE_STOP_TIMEOUT_MS)
    }
  }
  return { ...node, killed }
}

/** Starts node `index` again from its data dir (it rejoins with the cluster it recorded). */
export async function testbedRestart (dir: string, index: number): Promise<TestbedNode> {
  const state = await loadTestbed(dir)
  const node = nodeAt(state, index)
  if (nodeRuns(node.pid, node.dataDir)) throw new TestbedArgumentError(`node ${index} is still running (pid ${node.pid}); kill it first`)
  const restarted = await spawnNode({ index, dataDir: node.dataDir, placement: placementOf(labToSteer(state), index), env: state.env ?? {} })
  state.nodes = state.nodes.map((n) => n.index === index ? restarted : n)
  await save(state)
  return restarted
}

async function editBlocked (node: TestbedNode, edit: (blocked: Set<string>) => void): Promise<void> {
  const file = path.join(node.dataDir, FAULTS_FILE_NAME)
  let blocked = new Set<string>()
  try {
    blocked = new Set((JSON.parse(await fs.readFile(file, 'utf8')) as { blocked: string[] }).blocked)
  } catch { /* no faults yet */ }
  edit(blocked)
  await fs.writeFile(file + '.tmp', JSON.stringify({ blocked: [...blocked] }) + '\n')
  await fs.rename(file + '.tmp', file)
}

/** Cuts the link between nodes `a` and `b` in both directions. */
export async function testbedPartition (dir: string, a: number, b: number): Promise<void> {
  if (a === b) throw new TestbedArgumentError('partition needs two different nodes')
  const state = await loadTestbed(dir)
  const left = nodeAt(state, a)
  const right = nodeAt(state, b)
  const lab = labToSteer(state)
  if (lab !== undefined) {
    lab.partition([a - 1], [b - 1])
    return
  }
  await editBlocked(left, (blocked) => blocked.add(right.nodeId))
  await editBlocked(right, (blocked) => blocked.add(left.nodeId))
}

/** Removes every partition. */
export async function testbedHeal (dir: string): Promise<void> {
  const state = await loadTestbed(dir)
  labToSteer(state)?.heal()
  for (const node of state.nodes) await fs.rm(path.join(node.dataDir, FAULTS_FILE_NAME), { force: true })
}

/** Which of `pids` still run after waiting up to `timeoutMs` for all of them to exit (a zombie has exited). */
async function stillAliveAfter (pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = steadyNowMs() + timeoutMs
  while (pids.some(processAlive) && steadyNowMs() < deadline) await sleep(POLL_MS)
  return pids.filter(processAlive)
}

/** @throws TestbedNodeStopError when a process still runs NODE_STOP_TIMEOUT_MS after its SIGKILL */
async function stopProcesses (pids: number[]): Promise<void> {
  for (const pid of pids) if (processAlive(pid)) process.kill(pid, 'SIGTERM')
  const unstopped = await stillAliveAfter(pids, NODE_STOP_TIMEOUT_MS)
  for (const pid of unstopped) process.kill(pid, 'SIGKILL')
  // A namespace is only gone once its last process is, and a data dir once its node is: wait for the SIGKILLed
  // ones too (bounded), and say which did not go rather than delete a data dir a live node still writes.
  const unkilled = await stillAliveAfter(unstopped, NODE_STOP_TIMEOUT_MS)
  if (unkilled.length > 0) throw new TestbedNodeStopError(`pid ${unkilled.join(', ')}`, NODE_STOP_TIMEOUT_MS)
}

/**
 * Stops every node (SIGTERM, SIGKILL after NODE_STOP_TIMEOUT_MS); with --netns also every other process in
 * the testbed's namespaces, then deletes its namespaces and host link; last the nodes' data dirs, testbed.json and
 * the directory once empty.
 * Idempotent: false when `dir` records no testbed (nothing to do). A failure keeps testbed.json, so `down`
 * can be run again.
 *
 * @throws TestbedNotRunningError when testbed.json exists but cannot be read; TestbedNodeStopError when a process
 *   still runs after its SIGKILL (nothing is deleted); NetnsUnavailableError, NetnsCommandError
 */
export async function testbedDown (dir: string): Promise<boolean> {
  if (!existsSync(path.join(dir, TESTBED_FILE_NAME))) return false
  const state = await loadTestbed(dir)
  const lab = labToSteer(state)
  // A recorded pid whose process is no longer that node may have been reused by any other: it is left alone.
  const recorded = state.nodes.filter((n) => nodeRuns(n.pid, n.dataDir)).map((n) => n.pid)
  // NB: a node the CLI spawned but had not yet recorded when it failed or was killed runs on one of the
  // testbed's data dirs (with --netns, `ip netns pids` finds it as well).
  await stopProcesses([...new Set([...recorded, ...nodePidsIn(state.dir), ...(lab?.pids() ?? [])])])
  lab?.teardown()
  await removeTestbedFiles(state.dir)
  return true
}

/**
 * Deletes what `up` made in `dir`, the nodes' data dirs then testbed.json, and `dir` itself once empty.
 * NB: `--dir` may name a directory that held other files before `up` (`--dir .`); they are not the testbed's.
 */
async function removeTestbedFiles (dir: string): Promise<void> {
  const nodeDirs = (await fs.readdir(dir)).filter((entry) => NODE_DIR_NAME_PATTERN.test(entry))
  for (const entry of nodeDirs) await fs.rm(path.join(dir, entry), { recursive: true, force: true })
  for (const file of [`${TESTBED_FILE_NAME}.tmp`, TESTBED_FILE_NAME]) await fs.rm(path.join(dir, file), { force: true })
  await fs.rmdir(dir).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOTEMPTY') throw err })
}
