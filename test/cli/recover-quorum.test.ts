/**
 * `revoada recover-quorum` as an operator runs it: on a stopped voter whose quorum is not lost (here the only voter,
 * which elects itself) it refuses with exit 1 and QuorumRecoveryError, and the node then starts as usual; on a data
 * dir without a cluster it refuses too and leaves nothing behind. A recovery that succeeds, through this command, is
 * the fault suite's "majority of voters lost for good" (docs/FAULTS.md); its logic on real nodes is
 * test/consensus/cluster/quorum-recovery.test.ts.
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
  it('should refuse a voter whose quorum answers, and a data dir without a cluster, with exit 1', async () => {
    root = await tempDir()
    const dir = path.join(root, 'a')
    const first = await startReady(dir)
    await stopChild(first)

    const refusedLive = await cliRun(['recover-quorum', '--data-dir', dir])
    expect(refusedLive.stderr).toContain('QuorumRecoveryError: the cluster has a leader')
    expect(refusedLive.code).toBe(1)
    children.push(await startReady(dir)) // and it starts as usual afterwards

    const empty = path.join(root, 'empty')
    const refused = await cliRun(['recover-quorum', '--data-dir', empty])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('QuorumRecoveryError')
    expect(refused.stderr).toContain('nothing to recover')
    expect(existsSync(empty)).toBe(false)
  }, 180_000)
})
