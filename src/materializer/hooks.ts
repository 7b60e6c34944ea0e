/**
 * @module materializer/hooks
 * Operator hooks (issue 15): an executable per transition (`hooks.onPromote`, `hooks.onDemote`) run with
 * ROLE, NODE_ID, SHAPE_CID and INDEX in its environment, a timeout, and its output in the log. Runs are
 * serial and in order (a demote never overtakes the promote before it); a failure is recorded and retried
 * with exponential backoff, up to HOOK_ATTEMPTS_MAX attempts. Hooks run beside the node, never inside the
 * consensus path: nothing waits for them.
 */
import { spawn } from 'node:child_process'
import type { Logger } from '../log/index.js'
import { childToStartPriority } from '../util/thread-priority.js'
import { HookFailedError } from './errors.js'
import {
  HOOK_ATTEMPTS_MAX, HOOK_OUTPUT_AFTER_EXIT_MS, HOOK_OUTPUT_BYTES_MAX, HOOK_QUEUE_MAX, HOOK_RETRY_MAX_MS, HOOK_RETRY_MIN_MS
} from './constants.js'

export type HookName = 'onPromote' | 'onDemote'

export interface HookRun {
  hook: HookName
  executable: string
  role: string
  nodeId: string
  shapeCid: string
  index: number
}

export interface HookOutcome {
  run: HookRun
  attempt: number
  ok: boolean
  /** Exit code, or null when killed or not started. */
  exitCode: number | null
  message: string
  output: string
  /** When a failed run will be tried again, or null when it succeeded or was given up. */
  retryInMs: number | null
}

export interface HookRunnerInit {
  timeoutMs: number
  log: Logger
  onOutcome: (outcome: HookOutcome) => void
  /** @default HOOK_RETRY_MIN_MS */
  retryMinMs?: number
  /** Called when the last queued run has ended (succeeded, given up or dropped) and none waits. */
  onIdle?: () => void
}

export class HookRunner {
  private readonly queue: HookRun[] = []
  private running = false
  private stopped = false
  private retryTimer: NodeJS.Timeout | undefined
  /** Kills the running hook's process group; undefined once the hook exited (what it left running is not ours). */
  private killRunning: (() => void) | undefined

  constructor (private readonly init: HookRunnerInit) {}

  /** Queues a run; beyond HOOK_QUEUE_MAX runs the oldest waiting is dropped (and reported). */
  enqueue (run: HookRun): void {
    if (this.stopped) return
    if (this.queue.length >= HOOK_QUEUE_MAX) {
      // NB: the head of the queue is the run in progress while it runs or waits for its retry; it is removed
      // when it ends. Dropped, it was reported dropped while it ran on, and its end removed the next run
      // unrun and unreported (or its retry ran another in its place).
      const inProgress = this.running || this.retryTimer !== undefined
      const dropped = this.queue.splice(inProgress ? 1 : 0, 1)[0]!
      this.init.onOutcome({ run: dropped, attempt: 0, ok: false, exitCode: null, message: `dropped: more than ${HOOK_QUEUE_MAX} hook runs waiting`, output: '', retryInMs: null })
    }
    this.queue.push(run)
    this.pump(1)
  }

  get pending (): number {
    return this.queue.length
  }

  /** No run is running, waiting for its retry or queued. */
  get idle (): boolean {
    return this.queue.length === 0
  }

  stop (): void {
    this.stopped = true
    this.queue.length = 0
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.killRunning?.()
  }

  private pump (attempt: number): void {
    // A run waiting for its retry still holds the queue: a new enqueue must not start it a second time.
    if (this.running || this.retryTimer !== undefined || this.stopped || this.queue.length === 0) return
    this.running = true
    const run = this.queue[0]!
    this.execute(run).then((result) => {
      this.running = false
      if (this.stopped) return
      const retry = !result.ok && attempt < HOOK_ATTEMPTS_MAX
      const delayMs = Math.min((this.init.retryMinMs ?? HOOK_RETRY_MIN_MS) * 2 ** (attempt - 1), HOOK_RETRY_MAX_MS)
      this.init.onOutcome({ run, attempt, ...result, retryInMs: retry ? delayMs : null })
      if (retry) {
        this.retryTimer = setTimeout(() => { this.retryTimer = undefined; this.pump(attempt + 1) }, delayMs)
        return
      }
      this.queue.shift()
      this.pump(1)
      if (this.queue.length === 0) this.init.onIdle?.()
    }, (err: unknown) => {
      // execute() reports every failure as a result; reaching here is a bug.
      this.running = false
      throw err
    })
  }

  private async execute (run: HookRun): Promise<{ ok: boolean, exitCode: number | null, message: string, output: string }> {
    const env = { ...process.env, HOOK: run.hook, ROLE: run.role, NODE_ID: run.nodeId, SHAPE_CID: run.shapeCid, INDEX: String(run.index) }
    return await new Promise((resolve) => {
      let output = ''
      let settled = false
      /** The hook's timeout, and the wait for its output after it exited. */
      const timers: { run?: NodeJS.Timeout, afterExit?: NodeJS.Timeout } = {}
      let child: ReturnType<typeof spawn> | undefined
      const finish = (result: { ok: boolean, exitCode: number | null, message: string }): void => {
        if (settled) return
        settled = true
        clearTimeout(timers.run)
        clearTimeout(timers.afterExit)
        this.killRunning = undefined
        // Ours no more: a process the hook left running may still hold the pipes.
        child?.stdout?.destroy()
        child?.stderr?.destroy()
        resolve({ ...result, output })
      }
      const collect = (chunk: Buffer): void => {
        if (!settled && output.length < HOOK_OUTPUT_BYTES_MAX) output += chunk.toString('utf8').slice(0, HOOK_OUTPUT_BYTES_MAX - output.length)
      }
      const ended = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (code === 0) finish({ ok: true, exitCode: 0, message: `${run.hook} for ${run.role} succeeded` })
        else finish({ ok: false, exitCode: code, message: `${run.hook} ${run.executable} for ${run.role} ${code !== null ? `exited ${code}` : `was killed by ${String(signal)}`}` })
      }
      try {
        // Its own process group: the timeout and stop() kill the hook and every process it runs, not the shell
        // alone (a `sleep` it did not exec outlived both, and the node).
        child = spawn(run.executable, [], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      } catch (err) {
        finish({ ok: false, exitCode: null, message: new HookFailedError(`${run.hook} ${run.executable} could not start: ${(err as Error).message}`).message })
        return
      }
      const pid = child.pid
      this.killRunning = () => {
        if (pid === undefined) return
        try {
          process.kill(-pid, 'SIGKILL')
        } catch {
          // The group is gone already (ESRCH).
        }
      }
      // Not at a voter's raised priority, which the fork inherited (consensus/voter-priority.ts).
      childToStartPriority(pid)
      timers.run = setTimeout(() => {
        this.killRunning?.()
        finish({ ok: false, exitCode: null, message: `${run.hook} ${run.executable} killed after ${this.init.timeoutMs} ms` })
      }, this.init.timeoutMs)
      child.stdout?.on('data', collect)
      child.stderr?.on('data', collect)
      child.on('error', (err) => finish({ ok: false, exitCode: null, message: `${run.hook} ${run.executable} could not start: ${err.message}` }))
      // The run ends when the hook exits. NB: 'close' waits for every holder of its pipes, and a process the
      // hook started in the background (`nohup x &`) holds them as long as it runs: without the exit the run
      // was killed by its timeout, reported failed and run again.
      child.on('exit', (code, signal) => {
        if (settled) return
        this.killRunning = undefined
        // Exited within its time: the wait for its output is not a timeout.
        clearTimeout(timers.run)
        timers.afterExit = setTimeout(() => ended(code, signal), HOOK_OUTPUT_AFTER_EXIT_MS)
      })
      child.on('close', ended)
    })
  }
}
