/**
 * A full hook queue drops its oldest *waiting* run, never the one running: every run queued gets exactly one
 * outcome (its own, or `dropped`), and the runs behind it all run. Method: a real HookRunner; the first run's
 * hook waits for a file the test writes, while HOOK_QUEUE_MAX more runs are queued behind it.
 * Red before: the run being executed was taken as the oldest and reported dropped (while it ran on), and when it
 * ended the runner shifted the queue again, so the next run (an onDemote, say) was removed without running
 * and without any outcome; had the running one failed, its retry would have run another run in its place.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { HookRunner } from '../../src/materializer/hooks.js'
import type { HookOutcome } from '../../src/materializer/hooks.js'
import { HOOK_QUEUE_MAX } from '../../src/materializer/constants.js'
import { capturingLogger, tempDir, waitFor } from '../node/helpers.js'

let root = ''
let runner: HookRunner | undefined
afterEach(async () => {
  runner?.stop()
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
})

describe('hook queue at its bound', () => {
  it('should drop the oldest waiting run, not the running one, and give every run one outcome', async () => {
    root = await tempDir('revoada-hookq-')
    const go = path.join(root, 'go')
    const hook = path.join(root, 'hook.sh')
    // The first run (INDEX 0) waits until the test lets it go; the others end at once.
    await fs.writeFile(hook, `#!/bin/sh\nif [ "$INDEX" = 0 ]; then touch ${root}/started; while [ ! -f ${go} ]; do sleep 0.02; done; fi\nexit 0\n`, { mode: 0o755 })
    const outcomes: HookOutcome[] = []
    runner = new HookRunner({ timeoutMs: 60_000, log: capturingLogger().log, onOutcome: (o) => { outcomes.push(o) } })
    const enqueue = (index: number): void => {
      runner!.enqueue({ hook: 'onPromote', executable: hook, role: 'scheduler', nodeId: 'n1', shapeCid: 'c', index })
    }
    enqueue(0)
    await waitFor(async () => await fs.stat(path.join(root, 'started')).then(() => true, () => false), 10_000, 'the first hook running')
    for (let index = 1; index <= HOOK_QUEUE_MAX; index++) enqueue(index)
    await fs.writeFile(go, '')
    await waitFor(() => runner!.idle, 60_000, 'every run ended')

    const byIndex = new Map<number, HookOutcome[]>()
    for (const o of outcomes) byIndex.set(o.run.index, [...(byIndex.get(o.run.index) ?? []), o])
    for (let index = 0; index <= HOOK_QUEUE_MAX; index++) expect(byIndex.get(index)?.length, `outcomes of run ${index}`).toBe(1)
    // The one dropped is the oldest waiting (1); the running one (0) ran to its end.
    expect(outcomes.filter((o) => o.message.startsWith('dropped')).map((o) => o.run.index)).toEqual([1])
    expect(byIndex.get(0)?.[0]?.ok).toBe(true)
  }, 90_000)
})
