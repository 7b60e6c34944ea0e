/**
 * @module bench/revoada/cluster
 * A cluster of `revoada start` child processes on 127.0.0.1 for benchmarks: start, join, talk to each node's
 * admin API (keep-alive node:http, bench/lib/json-http), find the leader, SIGKILL and restart. Every process and temp dir is removed by
 * `stop()`.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { promises as fs, createWriteStream, existsSync, mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { keepAliveAgent, requestJson } from '../lib/json-http.js'
import { waitFor } from '../lib/ports.js'
import { onInterrupt } from './cleanup.js'

const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')
/** The Node.js flags the `revoada` bin runs with (its shebang): benches that measure memory pass them too. */
export { REVOADA_BIN_NODE_FLAGS } from '../../src/cli/node-flags.js'
const NODE_LOG_DIR = process.env.BENCH_NODE_LOG_DIR
/** The nodes' --log-level (BENCH_NODE_LOG_LEVEL, e.g. info with BENCH_NODE_LOG_DIR to see why a run stalls). */
const NODE_LOG_LEVEL = process.env.BENCH_NODE_LOG_LEVEL ?? 'error'
/** How long stop() waits for a graceful exit when profiling before it SIGKILLs. */
const GRACEFUL_STOP_MS = 10_000
/** How long one node may take to come up (BENCH_START_TIMEOUT_MS; a loaded machine needs more). */
const START_TIMEOUT_MS = Number(process.env.BENCH_START_TIMEOUT_MS ?? 30_000)
/**
 * The `revoada` entry point the nodes run: the bundle the bin runs (dist/bundle/main.js, built by `npm run
 * build`), or BENCH_REVOADA_MAIN (e.g. dist/src/cli/main.js, tsc's unbundled output, to compare).
 */
const MAIN = process.env.BENCH_REVOADA_MAIN ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bundle/main.js')

export interface RevoadaProc {
  dir: string
  child: ChildProcess
  api: { url: string, token: string }
  nodeId: string
}

export interface ShapeView { cid: string, appliedIndex: number, target: Record<string, number>, voters: string[], members: Array<{ nodeId: string, roles: string[] }> }

export interface Status { nodeId: string, leader: string | null, role: string, term: number, appliedIndex: number, commitIndex: number, voters: string[], learners: string[], shapeCid: string }

export class RevoadaCluster {
  readonly procs: RevoadaProc[] = []
  private root = ''
  private configFile = ''
  private cleanup: (() => Promise<void>) | undefined
  /** Keep-alive connections to every node's admin API (bench/lib/json-http: a lean client, not fetch). */
  private readonly agent = keepAliveAgent()

  /** How long spawn() waits for one node's API (a bench starting many nodes at once raises it). */
  startTimeoutMs = START_TIMEOUT_MS
  /** Node.js flags of every spawned node (BENCH_NODE_ARGS; a bench may add e.g. the `revoada` bin's own). */
  nodeArgs: string[] = [...NODE_ARGS]

  /**
   * A cluster with no process yet: its temp dir, config file and Ctrl-C cleanup exist; spawn() adds nodes.
   * For benches that start nodes their own way (all joiners at once); stop() as usual.
   */
  static async empty (config: Record<string, unknown>): Promise<RevoadaCluster> {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: npm run build first`)
    const cluster = new RevoadaCluster()
    cluster.root = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-bench-'))
    cluster.configFile = path.join(cluster.root, 'config.json')
    // Registered before the first child exists, so Ctrl-C during start-up still cleans up.
    cluster.cleanup = onInterrupt(async () => { await cluster.teardown() })
    try {
      await fs.writeFile(cluster.configFile, JSON.stringify(config))
    } catch (err) {
      await cluster.stop()
      throw err
    }
    return cluster
  }

  /** The node directory for the i-th node of this cluster. */
  nodeDir (i: number): string {
    return path.join(this.root, `n${i}`)
  }

  static async start (n: number, config: Record<string, unknown>, options: { nodeArgs?: readonly string[] } = {}): Promise<RevoadaCluster> {
    const cluster = await RevoadaCluster.empty(config)
    cluster.nodeArgs.push(...(options.nodeArgs ?? []))
    try {
      const first = await cluster.spawn(cluster.nodeDir(0))
      const join = ((await cluster.get(first, '/v1/join-string')) as { joinString: string }).joinString
      for (let i = 1; i < n; i++) await cluster.spawn(cluster.nodeDir(i), join)
      await waitFor(async () => (await cluster.status(first)).learners.length === n - 1, Math.max(30_000, START_TIMEOUT_MS), 'all admitted')
    } catch (err) {
      await cluster.stop()
      throw err
    }
    return cluster
  }

  async spawn (dir: string, join?: string): Promise<RevoadaProc> {
    await fs.mkdir(dir, { recursive: true })
    // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the nodes (not REVOADA_*: the
    // config loader reads those as settings and refuses unknown keys); stop() then ends
    // them with SIGTERM so Node writes the profile.
    const child = spawn(process.execPath, [...this.nodeArgs, MAIN, 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', NODE_LOG_LEVEL,
      '--config', this.configFile, ...(join !== undefined ? ['--join', join] : [])], { stdio: ['ignore', 'ignore', 'pipe'] })
    // Keep the tail of stderr so a node that fails to start says why.
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
    // BENCH_NODE_LOG_DIR keeps every node's stderr (its error log) in <dir>/<node>.log, past the run.
    if (NODE_LOG_DIR !== undefined) {
      // Created if missing: a stream to a missing dir threw from an 'error' event and left the temp dirs behind.
      mkdirSync(NODE_LOG_DIR, { recursive: true })
      child.stderr?.pipe(createWriteStream(path.join(NODE_LOG_DIR, `${path.basename(dir)}.log`), { flags: 'a' }))
    }
    // A node that dies on its own (not our SIGKILL/SIGTERM) says why, or a bench's figures silently lose it.
    child.once('exit', (code) => { if (code !== null && code !== 0) console.error(`${dir}: revoada exited ${code} on its own: ${stderr.slice(-1500)}`) })
    const proc = { dir, child, api: { url: '', token: '' }, nodeId: '' }
    // Listed at once (replacing a killed incarnation) so stop() reaches it even if it never comes up.
    const existing = this.procs.findIndex((p) => p.dir === dir)
    if (existing >= 0) this.procs[existing] = proc
    else this.procs.push(proc)
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`revoada start exited ${child.exitCode}: ${stderr}`)
      try {
        proc.api = JSON.parse(await fs.readFile(path.join(dir, 'api.json'), 'utf8')) as { url: string, token: string }
        proc.nodeId = (await this.status(proc)).nodeId
        return true
      } catch { return false }
    }, this.startTimeoutMs, `${dir} up`)
    return proc
  }

  async get (proc: RevoadaProc, route: string): Promise<unknown> {
    return await requestJson(this.agent, { method: 'GET', base: proc.api.url, route, token: proc.api.token, timeoutMs: 5000 })
  }

  /** POSTs `body` as JSON; a non-2xx answer throws HttpStatusError (`route: status body`). */
  async post (proc: RevoadaProc, route: string, body: unknown, timeoutMs = 10_000): Promise<unknown> {
    return await requestJson(this.agent, { method: 'POST', base: proc.api.url, route, token: proc.api.token, body, timeoutMs })
  }

  async status (proc: RevoadaProc): Promise<Status> {
    return await this.get(proc, '/v1/status') as Status
  }

  /** The committed shape as `proc` has applied it (no ReadIndex round: what that node itself believes). */
  async staleShape (proc: RevoadaProc): Promise<ShapeView> {
    return await this.get(proc, '/v1/shape?stale=true') as ShapeView
  }

  alive (): RevoadaProc[] {
    return this.procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null)
  }

  async leader (): Promise<RevoadaProc> {
    for (const proc of this.alive()) {
      try {
        const s = await this.status(proc)
        if (s.role === 'leader') return proc
      } catch { /* not answering */ }
    }
    throw new Error('no leader')
  }

  async kill (proc: RevoadaProc): Promise<void> {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return
    const exited = new Promise((resolve) => proc.child.once('exit', resolve))
    proc.child.kill('SIGKILL')
    await exited
  }

  /** SIGTERM, then SIGKILL if still running after GRACEFUL_STOP_MS. */
  private async terminate (proc: RevoadaProc): Promise<void> {
    const exited = new Promise((resolve) => proc.child.once('exit', resolve))
    proc.child.kill('SIGTERM')
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), GRACEFUL_STOP_MS)
    await exited
    clearTimeout(timer)
  }

  async restart (proc: RevoadaProc): Promise<RevoadaProc> {
    return await this.spawn(proc.dir)
  }

  /** Kills every child and removes the temp dir; safe to call more than once. */
  async stop (): Promise<void> {
    if (this.cleanup !== undefined) await this.cleanup()
    else await this.teardown()
  }

  private async teardown (): Promise<void> {
    if (NODE_ARGS.length > 0) await Promise.all(this.alive().map(async (p) => await this.terminate(p)))
    for (const proc of this.procs) await this.kill(proc)
    this.agent.destroy()
    if (this.root !== '') await fs.rm(this.root, { recursive: true, force: true })
  }
}
