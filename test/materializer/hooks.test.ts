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
afterEach(async () => {
  runner?.stop()
  if (restoreNice !== undefined) mainThreadPriority.set(restoreNice)
  restoreNice = undefined
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
})

async function script (name: string, body: string): Promise<string> {
  const file = path.join(root, name)
  await fs.writeFile(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return file
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
