/**
 * A node whose stdout and stderr go to a full disk (`/dev/full`: every write fails with ENOSPC) keeps running
 * (src/log/stdio-guard.ts). Without the guard the first failed write was thrown as an 'error' event with no
 * listener and ended the process: `revoada start > node.log 2>&1`, and the testbed's `node.log`, on a disk
 * that fills.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanEnv, cliRun, MAIN, REPO } from './helpers.js'
import { tempDir, waitFor } from '../node/helpers.js'

const TESTBED_NODE = path.join(REPO, 'dist/src/testbed/node-main.js')
const children: ChildProcess[] = []

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL')
      await new Promise((resolve) => c.once('exit', resolve))
    }
  }
})

/** Spawns `args` with stdout and stderr on /dev/full; resolves with the child once `dataDir`'s API answers. */
async function spawnOnFullDisk (args: string[], dataDir: string): Promise<ChildProcess> {
  const full = openSync('/dev/full', 'w')
  const child = spawn(process.execPath, args, { env: cleanEnv(), stdio: ['ignore', full, full] })
  closeSync(full)
  children.push(child)
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`the node exited ${child.exitCode} with its output on a full disk`)
    return existsSync(path.join(dataDir, 'api.json')) && (await cliRun(['status', '--json', '--data-dir', dataDir], 30_000)).code === 0
  }, 90_000, 'the node\'s API')
  return child
}

async function stopsCleanly (child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code) }))
  child.kill('SIGTERM')
  return await exited
}

describe('a node whose output goes to a full disk', () => {
  it.skipIf(!existsSync('/dev/full'))('should keep running under `revoada start` and stop gracefully', async () => {
    const dir = path.join(await tempDir(), 'node')
    const child = await spawnOnFullDisk([MAIN, 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'debug'], dir)
    // The API answers before the single node has elected itself; its election's debug lines go to the full disk too.
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`the node exited ${child.exitCode} with its output on a full disk`)
      const status = JSON.parse((await cliRun(['status', '--json', '--data-dir', dir])).stdout) as { leader: string | null, nodeId: string }
      return status.leader === status.nodeId
    }, 90_000, 'the node to lead')
    expect(await stopsCleanly(child)).toBe(0)
  }, 180_000)

  it.skipIf(!existsSync('/dev/full'))('should keep running as a testbed node, whose log is its stderr', async () => {
    const dir = path.join(await tempDir(), 'node')
    const child = await spawnOnFullDisk([TESTBED_NODE, dir, '127.0.0.1'], dir)
    expect(await stopsCleanly(child)).toBe(0)
  }, 180_000)
})
