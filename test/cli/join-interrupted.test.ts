/**
 * Goal: a first join stopped by the operator (Ctrl-C, SIGTERM) before the node was admitted is undone as one that
 * timed out is: what the start created in the data dir is removed, so the next start joins afresh. Before, the
 * node stopped with exit 0 and left a data dir of a cluster it never joined: a start with the right join string of
 * another cluster then failed with ClusterMismatchError, and one without `--join` knocked at the first forever.
 * Method: `revoada start --join` with a join string whose only address is a closed port; SIGINT once it says
 * it is joining.
 */
import { promises as fs, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeJoinString } from '../../src/net/join-string.js'
import { tempDir } from '../node/helpers.js'
import { spawnStart, stopChild, waitFor } from './helpers.js'
import type { StartedChild } from './helpers.js'

const dirs: string[] = []
const children: StartedChild[] = []
afterEach(async () => {
  for (const c of children.splice(0)) await stopChild(c)
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

/** A loopback TCP port nothing listens on (taken, then freed). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('a first join interrupted before admission', () => {
  it('should remove what the start created and exit 0 on SIGINT', async () => {
    const root = await tempDir()
    dirs.push(root)
    const dataDir = path.join(root, 'node')
    const join = encodeJoinString({ clusterId: 'c-unreachable', key: randomBytes(32), addresses: [`/ip4/127.0.0.1/tcp/${await closedPort()}`] })
    const started = spawnStart(dataDir, ['--join', join])
    children.push(started)
    await waitFor(() => {
      if (started.child.exitCode !== null) throw new Error(`start exited ${started.child.exitCode}: ${started.stderr()}`)
      return started.stderr().includes('joining: waiting for a cluster peer')
    }, 60_000, 'the join to begin')
    expect(existsSync(path.join(dataDir, 'cluster.json'))).toBe(true)
    started.child.kill('SIGINT')
    expect(await started.exited).toBe(0)
    expect(existsSync(dataDir)).toBe(false)
  }, 90_000)
})
