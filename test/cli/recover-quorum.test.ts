/**
 * `revoada recover-quorum` as an operator runs it: on a stopped voter's data dir it recovers (here the node is
 * already the only voter, so it has nothing to demote), says so and exits 0, and the node then starts as usual;
 * on a data dir without a cluster it exits 1 with QuorumRecoveryError and leaves nothing behind. The recovery of
 * three voters is test/consensus/cluster/quorum-recovery.test.ts.
 */
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../node/helpers.js'
import { cliRun, startReady, stopChild } from './helpers.js'
import type { StartedChild } from './helpers.js'

const children: StartedChild[] = []
let root = ''
afterAll(async () => {
  await Promise.all(children.map(stopChild))
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
})

describe('revoada recover-quorum', () => {
  it('should recover a stopped voter and exit 0, and refuse a data dir without a cluster', async () => {
    root = await tempDir()
    const dir = path.join(root, 'a')
    const first = await startReady(dir)
    await stopChild(first)

    const recovered = await cliRun(['recover-quorum', '--data-dir', dir])
    expect(recovered.stderr).toContain('quorum recovered')
    expect(recovered.code).toBe(0)
    children.push(await startReady(dir)) // and it starts as usual afterwards

    const empty = path.join(root, 'empty')
    const refused = await cliRun(['recover-quorum', '--data-dir', empty])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('QuorumRecoveryError')
    expect(refused.stderr).toContain('nothing to recover')
    expect(existsSync(empty)).toBe(false)
  }, 180_000)
})
