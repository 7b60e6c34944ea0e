/**
 * Leave detection of a frozen peer: a child node is SIGSTOPped (its socket stays open, so only a ping can
 * notice) and the in-process node must drop it within a few seconds, not the ~14 s of libp2p's defaults.
 * The connection monitor pings every connection only every 10 s; what drops the peer sooner is membership:
 * its heartbeats stop, it becomes suspect, its connection is pinged once and closed for not answering.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { apiGet } from '../../src/api/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli/main.js')
/** Suspicion ≈ 2 s + a 1 s ping timeout; allow scheduling slack on a loaded 2-core machine. */
const LEAVE_DETECTION_MAX_MS = 6000

let child: ChildProcess | undefined
let local: RevoadaNode | undefined
const dirs: string[] = []

afterEach(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGCONT')
    child.kill('SIGKILL')
    await new Promise((resolve) => child?.once('exit', resolve))
  }
  child = undefined
  await local?.stop()
  local = undefined
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('leave detection', () => {
  it('should drop a frozen peer within a few seconds when it stops answering pings', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npx tsc -p .\` (npm test builds first)`)
    const root = await tempDir()
    dirs.push(root)
    const remoteDir = path.join(root, 'remote')
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REVOADA_')))
    child = spawn(process.execPath, [MAIN, 'start', '--data-dir', remoteDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'silent'],
      { env, stdio: 'ignore' })
    await waitFor(() => existsSync(path.join(remoteDir, 'api.json')), 20_000, 'child api.json')
    const { joinString } = await apiGet(remoteDir, '/v1/join-string') as { joinString: string }
    const { nodeId: remoteId } = await apiGet(remoteDir, '/v1/status') as { nodeId: string }
    const membership = new MembershipService()
    // The connection monitor kept out of the picture (60 s): only the suspicion ping can drop the peer in time.
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
