/**
 * @module faults/nodes
 * The node processes of the fault suite: one `revoada start` per lab namespace (started with
 * `ip netns exec`, so the child pid is the node itself), its admin API on the lab address, SIGKILL and
 * restart, a per-node wall-clock offset file, and crash detection (any exit we did not cause).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js')
const API_TIMEOUT_MS = 4000

export interface NodeSpec {
  namespace: string, address: string, dataDir: string
  /** `--log-file` (the full-tmpfs node logs onto its full disk); stderr otherwise. */
  logFile?: string
}

export interface NodeStatus {
  nodeId: string, leader: string | null, role: string, term: number, appliedIndex: number, commitIndex: number, lastIndex: number, lastTerm: number,
  voters: string[], learners: string[], shapeCid: string, storage?: { writable: boolean, error?: string }
}

export class FaultNode {
  child: ChildProcess | undefined
  api = { url: '', token: '' }
  nodeId = ''
  /** Exits we did not cause (a crash), with the tail of stderr. */
  readonly crashes: string[] = []
  private killing = false
  private stderr = ''

  constructor (readonly index: number, readonly spec: NodeSpec, private readonly configFile: string) {}

  get clockFile (): string {
    return `${this.spec.dataDir}.clock`
  }

  private logArgs (): string[] {
    return this.spec.logFile !== undefined ? ['--log-file', this.spec.logFile] : []
  }

  get running (): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  async start (join?: string): Promise<void> {
    await fs.mkdir(this.spec.dataDir, { recursive: true })
    await fs.writeFile(this.clockFile, '0\n')
    await fs.rm(path.join(this.spec.dataDir, 'api.json'), { force: true })
    const args = ['netns', 'exec', this.spec.namespace, process.execPath, MAIN, 'start', '--data-dir', this.spec.dataDir,
      '--listen', `/ip4/${this.spec.address}/tcp/4101`, '--api', `${this.spec.address}:0`, '--config', this.configFile,
      '--log-level', 'warn', ...this.logArgs(), ...(join !== undefined ? ['--join', join] : [])]
    const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RVD_FAULTS_CLOCK_OFFSET_FILE: this.clockFile } })
    this.child = child
    this.killing = false
    child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-3000) })
    child.once('exit', (code, signal) => {
      // The whole kept tail: the table shows only the start of it, the run's log all of it (a stack).
      if (!this.killing) this.crashes.push(`node ${this.index} exited (code ${code}, signal ${signal}): ${this.stderr}`)
    })
    try {
      await waitFor(async () => {
        if (!this.running) throw new Error(`node ${this.index} did not start: ${this.stderr.slice(-600)}`)
        try {
          this.api = JSON.parse(await fs.readFile(path.join(this.spec.dataDir, 'api.json'), 'utf8')) as { url: string, token: string }
          this.nodeId = (await this.status()).nodeId
          return true
        } catch { return false }
      }, 60_000, `node ${this.index} up`)
    } catch (err) {
      // A start that hangs says nothing on exit: what it wrote so far is the only clue.
      throw new Error(`${(err as Error).message}; its stderr so far: ${this.stderr.slice(-1500)}`)
    }
  }

  /**
   * `revoada recover-quorum` on this (stopped) node's data dir, in its namespace with its usual flags; resolves
   * with the exit code and the tail of its stderr.
   */
  async recoverQuorum (): Promise<{ code: number | null, stderr: string }> {
    const args = ['netns', 'exec', this.spec.namespace, process.execPath, MAIN, 'recover-quorum', '--data-dir', this.spec.dataDir,
      '--listen', `/ip4/${this.spec.address}/tcp/4101`, '--api', `${this.spec.address}:0`, '--config', this.configFile, '--log-level', 'warn', ...this.logArgs()]
    const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RVD_FAULTS_CLOCK_OFFSET_FILE: this.clockFile } })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-3000) })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    return { code, stderr }
  }

  /** Removes this (stopped) node's data dir: the machine comes back empty and joins as a new member. */
  async wipe (): Promise<void> {
    await fs.rm(this.spec.dataDir, { recursive: true, force: true })
  }

  async kill (): Promise<void> {
    const child = this.child
    if (child === undefined || !this.running) return
    this.killing = true
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  async setClockOffset (offsetMs: number): Promise<void> {
    await fs.writeFile(this.clockFile, `${Math.round(offsetMs)}\n`)
  }

  async request (method: 'GET' | 'POST', route: string, body?: unknown, timeoutMs = API_TIMEOUT_MS): Promise<{ status: number, body: unknown }> {
    const res = await fetch(new URL(route, this.api.url), {
      method,
      headers: { authorization: `Bearer ${this.api.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs)
    })
    const text = await res.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch { /* not JSON */ }
    return { status: res.status, body: parsed }
  }

  async status (): Promise<NodeStatus> {
    const res = await this.request('GET', '/v1/status')
    if (res.status !== 200) throw new Error(`status ${res.status}`)
    return res.body as NodeStatus
  }
}

/** Polls `condition` until it holds; throws with `label` after `timeoutMs`. */
export async function waitFor (condition: () => Promise<boolean> | boolean, timeoutMs: number, label: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${label}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
