/**
 * Leave detection of a frozen peer: a child node is SIGSTOPped (its socket stays open, so only a ping can
 * notice) and the in-process node must drop it within a few seconds, not the ~14 s of libp2p's defaults.
 * The link monitor pings a quiet connection only every 10 s; what drops the peer sooner is membership:
 * its heartbeats stop, it becomes suspect, its connection is pinged once and closed for not answering.
 */
import type { ChildProcess } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import { killNodeProcess, spawnNodeProcess, tempDir, testConfig, waitFor } from '../node/helpers.js'

/**
 * Suspicion ≈ 2 s + the suspicion ping's 2 s timeout (membership-service.ts SUSPECT_PING_TIMEOUT_MS, once 1 s):
 * 4.2 s on an idle machine. A stall of this process delays the suspicion by as long (excused, member-table.ts
 * excuseOwnStall): the slack allows a 2 s stall on a loaded 2-core machine.
 */
const LEAVE_DETECTION_MAX_MS = 7000

let child: ChildProcess | undefined
let local: RevoadaNode | undefined
const dirs: string[] = []

afterEach(async () => {
  await killNodeProcess(child)
  child = undefined
  await local?.stop()
  local = undefined
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('leave detection', () => {
  it('should drop a frozen peer within a few seconds when it stops answering pings', async () => {
    const root = await tempDir()
    dirs.push(root)
    const remote = await spawnNodeProcess(path.join(root, 'remote'))
    child = remote.child
    const { joinString, nodeId: remoteId } = remote
    const membership = new MembershipService()
    // The link monitor kept out of the picture (60 s): only the suspicion ping can drop the peer in time.
    local = await startNode({ config: testConfig(path.join(root, 'local'), { join: joinString, net: { pingIntervalMs: 60_000 } }), services: [membership] })
    const node = local
    await waitFor(() => node.status().peers.includes(remoteId), 10_000, 'connected')
    // Heartbeats flow both ways before the freeze (else there is no member to suspect).
    await waitFor(() => membership.view().members.some((m) => m.nodeId === remoteId && m.health === 'alive'), 20_000, 'remote heard as a member')
    child.kill('SIGSTOP')
    const frozenAt = Date.now()
    await waitFor(() => !node.status().peers.includes(remoteId), LEAVE_DETECTION_MAX_MS + 2000, 'frozen peer dropped')
    expect(Date.now() - frozenAt).toBeLessThan(LEAVE_DETECTION_MAX_MS)
  })
})
