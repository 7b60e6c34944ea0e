/**
 * Hooks (issue 15): run with ROLE, NODE_ID, SHAPE_CID and INDEX in the environment; a failure is reported and
 * retried with backoff; a hook that hangs is killed by its timeout; runs stay in order.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { HookRunner } from '../../src/materializer/hooks.js'
import { mainThreadPriority } from '../../src/util/thread-priority.js'
import type { HookOutcome, HookRun } from '../../src/materializer/hooks.js'
import { capturingLogger, tempDir, waitFor } from '../node/helpers.js'

let root = ''
let runner: HookRunner | undefined
let restoreNice: number | undefined
/** Processes a hook started in the background: killed after each test, whatever the runner did. */
const strays: number[] = []
afterEach(async () => {
  runner?.stop()
  for (const pid of strays.splice(0)) {
    try { process.kill(pid, 'SIGKILL') } catch { /* gone already */ }
  }
  if (restoreNice !== undefined) mainThreadPriority.set(restoreNice)
  restoreNice = undefined
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
})

async function script (name: string, body: string): Promise<string> {
  const file = path.join(root, name)
  await fs.writeFile(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return file
}

/** Whether `pid` runs (a zombie, killed but not yet reaped by its new parent, does not). */
async function alive (pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
}

/** The pid a hook wrote to `file`, once it is there. */
async function pidIn (file: string): Promise<number> {
  await waitFor(async () => (await fs.readFile(file, 'utf8').catch(() => '')).endsWith('\n'), 10_000, `a pid in ${file}`)
  const pid = Number((await fs.readFile(file, 'utf8')).trim())
  strays.push(pid)
  return pid
}

const run = (executable: string, role = 'etcd'): HookRun => ({ hook: 'onPromote', executable, role, nodeId: 'n1', shapeCid: 'bafyshape', index: 7 })

describe('HookRunner', () => {
  it('should pass ROLE, NODE_ID, SHAPE_CID and INDEX and capture the output', async () => {
    root = await tempDir()
    const outcomes: HookOutcome[] = []
    runner = new HookRunner({ timeoutMs: 10_000, log: capturingLogger().log, onOutcome: (o) => outcomes.push(o) })
    runner.enqueue(run(await script('ok.sh', 'echo "$HOOK $ROLE $NODE_ID $SHAPE_CID $INDEX"')))
    await waitFor(() => outcomes.length === 1, 10_000, 'the hook ran')
    expect(outcomes[0]).toMatchObject({ ok: true, exitCode: 0, retryInMs: null })
    expect(outcomes[0]!.output.trim()).toBe('onPromote etcd n1 bafyshape 7')
  })

  // A voter raises its event loop (consensus/voter-priority.ts) and a forked hook inherits that; it must run at
  // the node's starting priority. Raising needs CAP_SYS_NICE: root only.
  it.runIf(process.platform === 'linux' && process.getuid?.() === 0)('should run a hook at the priority the node started with, not a voter\'s raised one', async () => {
    root = await tempDir()
    const start = mainThreadPriority.get()
    restoreNice = start
    mainThreadPriority.set(start - 3)
    const outcomes: HookOutcome[] = []
    runner = new HookRunner({ timeoutMs: 10_000, log: capturingLogger().log, onOutcome: (o) => outcomes.push(o) })
    // The hook waits (up to 5 s) for its own nice value to become the start's, then prints it: the runner lowers
    // it right after the fork; without that it stays at the raised value.
    runner.enqueue(run(await script('nice.sh', `for i in $(seq 50); do n=$(cut -d')' -f2 /proc/$$/stat | cut -d' ' -f18); [ "$n" = "${start}" ] && break; sleep 0.1; done; echo "$n"`)))
    await waitFor(() => outcomes.length === 1, 10_000, 'the hook ran')
    expect(outcomes[0]!.output.trim()).toBe(String(start))
  })

  it('should retry a failing hook with growing delays, then give up, and keep later runs in order', async () => {
    root = await tempDir()
    const outcomes: HookOutcome[] = []
    runner = new HookRunner({ timeoutMs: 10_000, log: capturingLogger().log, onOutcome: (o) => outcomes.push(o), retryMinMs: 10 })
    const log = path.join(root, 'order.log')
    const after = await script('after.sh', `echo after >> ${log}`)
    runner.enqueue(run(await script('fail.sh', `echo fail >> ${log}; exit 3`)))
    // The next run arrives while the failing one waits for its retry: it must queue behind it, not restart it.
    await waitFor(() => outcomes.length >= 1, 10_000, 'the first failure')
    runner.enqueue(run(after, 'api-server'))
    await waitFor(() => outcomes.some((o) => o.run.role === 'api-server'), 20_000, 'the second hook ran')
    const failures = outcomes.filter((o) => o.run.role === 'etcd')
    expect(failures.map((o) => o.attempt)).toEqual([1, 2, 3, 4, 5, 6])
    expect(failures.every((o) => !o.ok && o.exitCode === 3)).toBe(true)
    expect(failures.slice(0, 5).map((o) => o.retryInMs)).toEqual([10, 20, 40, 80, 160])
    expect(failures[5]!.retryInMs).toBeNull()
    expect((await fs.readFile(log, 'utf8')).trim().split('\n')).toEqual([...Array(6).fill('fail'), 'after'])
  })

  it('should kill a hook that outlives its timeout and report it', async () => {
    root = await tempDir()
    const outcomes: HookOutcome[] = []
    runner = new HookRunner({ timeoutMs: 300, log: capturingLogger().log, onOutcome: (o) => outcomes.push(o), retryMinMs: 60_000 })
    runner.enqueue(run(await script('hang.sh', 'exec sleep 60')))
    await waitFor(() => outcomes.length === 1, 10_000, 'the hook timed out')
    expect(outcomes[0]).toMatchObject({ ok: false, exitCode: null })
    expect(outcomes[0]!.message).toContain('killed after 300 ms')
  })

  // A hook may start something in the background (`nohup x &` keeps a pipe as its stdout). That process holds
  // the hook's output pipe open after the hook exits; the run is over when the hook exits, not when every
  // holder of its pipe does. Red when the runner waits for the pipes to close: the run is killed by its
  // timeout and reported failed (then retried, starting the background process again).
  it.runIf(process.platform === 'linux')('should report a hook that exits 0 as succeeded while a process it started keeps its output open', async () => {
    root = await tempDir()
    const outcomes: HookOutcome[] = []
    runner = new HookRunner({ timeoutMs: 5_000, log: capturingLogger().log, onOutcome: (o) => outcomes.push(o), retryMinMs: 60_000 })
    const pidFile = path.join(root, 'background.pid')
    runner.enqueue(run(await script('daemon.sh', `echo started\nsleep 60 &\necho $! > ${pidFile}`)))
    const pid = await pidIn(pidFile)
    await waitFor(() => outcomes.length === 1, 10_000, 'the outcome')
    expect(outcomes[0]).toMatchObject({ ok: true, exitCode: 0, retryInMs: null })
    expect(outcomes[0]!.output.trim()).toBe('started')
    // What the hook started on success is the operator's: left running.
    expect(await alive(pid)).toBe(true)
  })

  // A hook still running when the node stops (or when its timeout kills it) must not leave its children behind:
  // killing only the shell left a `sleep` it ran (any command that is not exec'ed) running after the node's stop.
  it.runIf(process.platform === 'linux')('should kill the processes of a running hook when it is stopped or timed out, not only the hook itself', async () => {
    root = await tempDir()
    const outcomes: HookOutcome[] = []
    runner = new HookRunner({ timeoutMs: 60_000, log: capturingLogger().log, onOutcome: (o) => outcomes.push(o), retryMinMs: 60_000 })
    const stoppedPid = path.join(root, 'stopped.pid')
    runner.enqueue(run(await script('hang.sh', `sleep 60 &\necho $! > ${stoppedPid}\nwait`)))
    const first = await pidIn(stoppedPid)
    runner.stop()
    await waitFor(async () => !(await alive(first)), 10_000, 'the stopped hook\'s child killed')

    // Long enough for the hook to start its child on a loaded machine before the timeout kills it.
    runner = new HookRunner({ timeoutMs: 2_000, log: capturingLogger().log, onOutcome: (o) => outcomes.push(o), retryMinMs: 60_000 })
    const timedOutPid = path.join(root, 'timed-out.pid')
    runner.enqueue(run(await script('hang2.sh', `sleep 60 &\necho $! > ${timedOutPid}\nwait`)))
    const second = await pidIn(timedOutPid)
    await waitFor(() => outcomes.length === 1, 10_000, 'the timeout')
    expect(outcomes[0]!.message).toContain('killed after 2000 ms')
    await waitFor(async () => !(await alive(second)), 10_000, 'the timed-out hook\'s child killed')
  })

  it('should report a hook that cannot start', async () => {
    root = await tempDir()
    const outcomes: HookOutcome[] = []
    runner = new HookRunner({ timeoutMs: 1000, log: capturingLogger().log, onOutcome: (o) => outcomes.push(o), retryMinMs: 60_000 })
    runner.enqueue(run(path.join(root, 'missing.sh')))
    await waitFor(() => outcomes.length === 1, 10_000, 'the failure')
    expect(outcomes[0]!.ok).toBe(false)
    expect(outcomes[0]!.message).toContain('could not start')
  })
})
