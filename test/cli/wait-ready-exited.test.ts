/**
 * `wait-ready` on a data dir whose node process is gone says so and exits 8 at once, instead of waiting out its
 * `--timeout`; a start still on its way is not declared dead. Method, with real `revoada start` processes: a
 * join to a stopped peer holds the data dir, gives up after --join-timeout and exits; a SIGKILLed node leaves its
 * lock naming a dead pid; that data dir started again with wait-ready beside it is ready (exit 0).
 */
import { describe, expect, it } from 'vitest'
import path from 'node:path'
import { cliRun, scratchSpace, spawnStart, startReady, stopChild } from './helpers.js'

const { newDir } = scratchSpace('revoada-wait-exited-')
const TIMEOUT_S = 90

describe('wait-ready on a node process that is gone', () => {
  it('should exit 8 early for a start that exits and for a killed node, and wait for a start on a stale lock', async () => {
    const root = await newDir()
    const first = await startReady(path.join(root, 'a'))
    const join = (await cliRun(['join-string', '--data-dir', path.join(root, 'a')])).stdout.trim()
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)

    // A start that exits at start, after it took its data dir: no peer answers its join.
    const joiner = spawnStart(path.join(root, 'b'), ['--join', join, '--join-timeout', '5'])
    const startedMs = Date.now()
    const exited = await cliRun(['wait-ready', '--data-dir', path.join(root, 'b'), '--timeout', String(TIMEOUT_S)])
    expect(await joiner.exited).toBe(1)
    expect([exited.code, exited.stderr]).toEqual([8, expect.stringMatching(/NodeExitedError: no node process in .*: the node process \(pid \d+\) that held it has exited before it was ready/)])
    expect(Date.now() - startedMs).toBeLessThan(TIMEOUT_S * 1000 / 2)

    // A node killed with SIGKILL: its lock names a pid that is gone, and no start takes the data dir.
    const killed = await startReady(path.join(root, 'a'))
    await stopChild(killed)
    const stale = await cliRun(['wait-ready', '--data-dir', path.join(root, 'a'), '--timeout', String(TIMEOUT_S)])
    expect([stale.code, stale.stderr]).toEqual([8, expect.stringMatching(/its lock names pid \d+, which is gone .*no start has taken it for 15 s/)])

    // The same data dir started again, wait-ready beside it: the stale lock is the start's predecessor's.
    const again = spawnStart(path.join(root, 'a'))
    try {
      const ready = await cliRun(['wait-ready', '--data-dir', path.join(root, 'a'), '--timeout', String(TIMEOUT_S)])
      expect([ready.code, ready.stderr]).toEqual([0, ''])
    } finally {
      await stopChild(again)
    }
  }, 300_000)
})
