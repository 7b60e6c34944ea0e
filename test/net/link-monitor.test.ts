/**
 * The link monitor pings only connections that received nothing for half a round, with yamux's own PING frame,
 * and aborts one whose ping is not answered within the timeout (net/link-monitor.ts). libp2p's connection
 * monitor, which it replaces, pinged every connection every round on a new stream: about a third of an idle
 * 50-node fleet's CPU (docs/bench/scale.md, "Pings only for quiet connections"). Rounds are run by hand at
 * chosen times (the nodes' own period is an hour). A frozen peer is a child process under SIGSTOP: its socket
 * stays open and only a ping notices.
 *
 * The timeout is long (10 s) because it is judged by this node's own clock: at 1 s a node starved of CPU for a
 * second found every ping late and aborted every connection at once, then paid a handshake per peer to
 * reconnect (issue 16: a forming 25-node cluster on 2 cores lost its leader's connections every 10–20 s).
 */
import type { ChildProcess } from 'node:child_process'
import path from 'node:path'
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { Connection, Stream } from '@libp2p/interface'
import { TooManyOutboundProtocolStreamsError, UnsupportedProtocolError } from '@libp2p/interface'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { isQuiet, LinkActivity, LinkMonitor, muxerPingOf, PING_PROTOCOL } from '../../src/net/link-monitor.js'
import { DEFAULT_PING_TIMEOUT_MS } from '../../src/config/constants.js'
import { createLogger } from '../../src/log/index.js'
import { steadyNowMs } from '../../src/util/clock.js'
import { killNodeProcess, spawnNodeProcess, tempDir, testConfig, waitFor } from '../node/helpers.js'

/** The nodes' round: no round of their own during a test, and quiet means silent for 30 min. */
const ROUND_MS = 3_600_000
/** How long a frozen peer stays frozen before it answers late (three times the old 1 s timeout). */
const FROZEN_MS = 3000
const nodes: RevoadaNode[] = []
const dirs: string[] = []
let child: ChildProcess | undefined

afterEach(async () => {
  await killNodeProcess(child)
  child = undefined
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

/** An in-process node connected to a node of its own (`far`), which counts the ping-protocol streams it takes. */
async function pair (): Promise<{ near: RevoadaNode, far: RevoadaNode, pingStreamsAtFar: () => number }> {
  const root = await tempDir()
  dirs.push(root)
  const net = { pingIntervalMs: ROUND_MS }
  const far = await startNode({ config: testConfig(path.join(root, 'far'), { net }), services: [] })
  nodes.push(far)
  let streams = 0
  await far.net.unhandle(PING_PROTOCOL)
  await far.net.handle(PING_PROTOCOL, (stream: Stream) => {
    streams++
    stream.addEventListener('message', (evt) => { stream.send(evt.data) })
    stream.addEventListener('remoteCloseWrite', () => { void stream.close() })
  }, { maxInboundStreams: 64 })
  const near = await startNode({ config: testConfig(path.join(root, 'near'), { join: far.joinString(), net }), services: [] })
  nodes.push(near)
  await waitFor(() => near.net.getConnections(far.net.peerId).length > 0, 10_000, 'connected')
  return { near, far, pingStreamsAtFar: () => streams }
}

/** An in-process node connected to a node in a child process (which a test can freeze with SIGSTOP). */
async function pairWithProcess (pingTimeoutMs: number): Promise<{ near: RevoadaNode, connection: Connection, remote: ChildProcess }> {
  const root = await tempDir()
  dirs.push(root)
  const { child: remote, joinString, nodeId } = await spawnNodeProcess(path.join(root, 'remote'))
  child = remote
  const near = await startNode({ config: testConfig(path.join(root, 'near'), { join: joinString, net: { pingIntervalMs: ROUND_MS, pingTimeoutMs } }), services: [] })
  nodes.push(near)
  await waitFor(() => near.net.getConnections().some((c) => c.remotePeer.toString() === nodeId), 20_000, 'connected to the child')
  const connection = near.net.getConnections().find((c) => c.remotePeer.toString() === nodeId) as Connection
  return { near, connection, remote }
}

/**
 * One answered muxer ping, and the muxer done with it. yamux's first keep-alive ping may still be in flight, and
 * a ping sent meanwhile shares its answer, even one sent after that answer arrived while the keep-alive's own
 * continuation has not run yet: a ping sent right after a freeze would then count as answered.
 */
async function settledPing (connection: Connection): Promise<void> {
  await muxerPingOf(connection)?.({})
  await new Promise((resolve) => setImmediate(resolve))
}

describe('isQuiet', () => {
  it('should call a connection quiet once it received nothing for the quiet time, or when nothing is known', () => {
    expect(isQuiet(1_000, 5_999, 5_000)).toBe(false)
    expect(isQuiet(1_000, 6_000, 5_000)).toBe(true)
    expect(isQuiet(undefined, 0, 5_000)).toBe(true)
  })
})

describe('link monitor on real connections', () => {
  it('should ping a connection only once it was quiet for half a round, every round, with yamux frames', async () => {
    const { near, far, pingStreamsAtFar } = await pair()
    const [connection] = near.net.getConnections(far.net.peerId)
    expect(muxerPingOf(connection!)).toBeDefined()
    // It just connected: the protector stamped the handshake's bytes, so it is not quiet yet.
    const connectedBy = steadyNowMs()
    expect(near.links.round(connectedBy)).toBe(0)
    await waitFor(() => steadyNowMs() - connectedBy >= 100, 1_000, 'the clock to move on')
    expect(near.links.round(steadyNowMs() + ROUND_MS)).toBe(1)
    await waitFor(() => near.links.counters().answered === 1, 10_000, 'the first answer')
    // The answer arrived at least 100 ms after `connectedBy`, and the protector stamped it: half a round after
    // `connectedBy` plus 10 ms the connection is not quiet (it would be, judged by its handshake alone).
    expect(near.links.round(connectedBy + ROUND_MS / 2 + 10)).toBe(0)
    // A round later the answer is old news: the link is pinged again.
    expect(near.links.round(steadyNowMs() + ROUND_MS)).toBe(1)
    await waitFor(() => near.links.counters().answered === 2, 10_000, 'the second answer')
    expect(near.links.counters()).toMatchObject({ pinged: 2, answered: 2, aborted: 0, skippedActive: 2 })
    expect(connection!.status).toBe('open')
    expect(near.status().links).toMatchObject({ pinged: 2, answered: 2 })
    // Answered by the far end's muxer: no stream of the ping protocol was opened.
    expect(pingStreamsAtFar()).toBe(0)
  })

  it('should abort a quiet connection to a frozen peer once its ping times out', async () => {
    const { near, connection, remote } = await pairWithProcess(500)
    await settledPing(connection)
    remote.kill('SIGSTOP')
    expect(near.links.round(steadyNowMs() + ROUND_MS)).toBe(1)
    await waitFor(() => connection.status !== 'open', 10_000, 'the connection aborted')
    expect(near.links.counters()).toMatchObject({ pinged: 1, answered: 0, aborted: 1 })
  })

  it('should keep a connection whose peer answers its ping 3 s late (the default timeout)', async () => {
    const { near, connection, remote } = await pairWithProcess(DEFAULT_PING_TIMEOUT_MS)
    await settledPing(connection)
    remote.kill('SIGSTOP')
    const pingedAt = Date.now()
    expect(near.links.round(steadyNowMs() + ROUND_MS)).toBe(1)
    await waitFor(() => Date.now() - pingedAt >= FROZEN_MS, FROZEN_MS + 1_000, 'the frozen time')
    remote.kill('SIGCONT')
    await waitFor(() => near.links.counters().answered === 1, 20_000, 'the late answer')
    expect(connection.status).toBe('open')
    expect(near.links.counters().aborted).toBe(0)
  })
})

/** A connection without a muxer ping, whose ping stream fails with `err` (or never opens while `err` is undefined). */
function fakeConnection (activity: LinkActivity, err?: Error, muxerPing?: () => Promise<number>): Connection & { aborted: Error[], streamsAsked: number } {
  const fake = {
    status: 'open',
    timeline: { open: 0 },
    remotePeer: { toString: () => 'peer' },
    aborted: [] as Error[],
    streamsAsked: 0,
    ...(muxerPing !== undefined ? { muxer: { ping: muxerPing } } : {}),
    async newStream () {
      fake.streamsAsked++
      if (err === undefined) return await new Promise(() => {})
      throw err
    },
    abort (e: Error) { fake.aborted.push(e); fake.status = 'closed' }
  }
  activity.track(fake.timeline).lastReceivedMs = 0
  return fake as unknown as Connection & { aborted: Error[], streamsAsked: number }
}

describe('link monitor decisions', () => {
  const monitor = (activity: LinkActivity, connections: Connection[]): LinkMonitor =>
    new LinkMonitor({ intervalMs: 10_000, timeoutMs: 10_000, activity, connections: () => connections, log: createLogger('silent') })

  it('should skip a connection that received within half a round and ping one quiet that long', () => {
    const activity = new LinkActivity(() => 0)
    const active = fakeConnection(activity)
    const quiet = fakeConnection(activity)
    activity.track(active.timeline).lastReceivedMs = 6_000
    const links = monitor(activity, [active, quiet])
    expect(links.round(10_000)).toBe(1)
    expect([active.streamsAsked, quiet.streamsAsked]).toEqual([0, 1])
    expect(links.counters()).toMatchObject({ pinged: 1, skippedActive: 1 })
  })

  it('should not ping a connection again while its ping is in flight', () => {
    const activity = new LinkActivity(() => 0)
    const waiting = fakeConnection(activity)
    const links = monitor(activity, [waiting])
    expect(links.round(10_000)).toBe(1)
    expect(links.round(20_000)).toBe(0)
    expect(waiting.streamsAsked).toBe(1)
  })

  it('should abort on a failed ping stream, but not on its own refusal or a peer without the ping protocol', async () => {
    const activity = new LinkActivity(() => 0)
    const failed = fakeConnection(activity, Object.assign(new Error('stream reset'), { name: 'StreamResetError' }))
    const refused = fakeConnection(activity, new TooManyOutboundProtocolStreamsError('another ping in flight'))
    const unsupported = fakeConnection(activity, new UnsupportedProtocolError('no ping here'))
    const links = monitor(activity, [failed, refused, unsupported])
    expect(links.round(10_000)).toBe(3)
    await waitFor(() => links.counters().aborted + links.counters().answered === 2, 5_000, 'the pings settled')
    expect(failed.aborted).toHaveLength(1)
    expect(refused.aborted).toHaveLength(0)
    expect(unsupported.aborted).toHaveLength(0)
    expect(links.counters()).toMatchObject({ pinged: 3, answered: 1, aborted: 1 })
  })

  it('should use the muxer\'s ping where there is one, and abort when it fails', async () => {
    const activity = new LinkActivity(() => 0)
    const answering = fakeConnection(activity, undefined, async () => 1)
    const failing = fakeConnection(activity, undefined, async () => { throw Object.assign(new Error('timed out'), { name: 'AbortError' }) })
    const links = monitor(activity, [answering, failing])
    expect(links.round(10_000)).toBe(2)
    await waitFor(() => links.counters().aborted + links.counters().answered === 2, 5_000, 'the pings settled')
    expect([answering.streamsAsked, failing.streamsAsked]).toEqual([0, 0])
    expect([answering.aborted.length, failing.aborted.length]).toEqual([0, 1])
  })
})
