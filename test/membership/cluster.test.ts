/**
 * Membership with real libp2p nodes in one process (issue 4 item 5): convergence, abrupt failure → dead,
 * restart → alive with a higher generation, replayed and forged heartbeats dropped, graceful stop → left.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { copyFile } from 'node:fs/promises'
import path from 'node:path'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import { encodeCanonical } from '../../src/codec/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

interface Running { node: RevoadaNode, membership: MembershipService, dir: string }

const FAST = { heartbeatIntervalMs: 200 }

async function start (dir: string, join?: string, settings = FAST): Promise<Running> {
  const membership = new MembershipService()
  const node = await startNode({ config: testConfig(dir, { ...(join !== undefined ? { join } : {}), membership: settings }), services: [membership] })
  return { node, membership, dir }
}

const healthOf = (r: Running, id: string): string | undefined => r.membership.view().members.find((m) => m.nodeId === id)?.health

describe('membership over gossipsub', () => {
  const running: Running[] = []
  afterEach(async () => { await Promise.all(running.splice(0).map(async (r) => { await r.node.stop() })) })

  async function cluster (n: number): Promise<Running[]> {
    const first = await start(await tempDir())
    running.push(first)
    const rest = await Promise.all(Array.from({ length: n - 1 }, async () => await start(await tempDir(), first.node.joinString())))
    running.push(...rest)
    const all = [first, ...rest]
    await waitFor(() => all.every((r) => r.membership.view().members.filter((m) => m.health === 'alive').length === n), 20_000, `${n} alive everywhere`)
    return all
  }

  it('should deliver heartbeats between 2 nodes and between 3 nodes', async () => {
    await cluster(2)
    for (const r of running.splice(0)) await r.node.stop()
    await cluster(3)
  })

  it('should converge to 5 alive members, mark an abruptly stopped node dead, and re-admit it with a higher generation', async () => {
    const all = await cluster(5)
    const victim = all[4]!
    const id = victim.node.nodeId
    const generation = victim.membership.view().members.find((m) => m.nodeId === id)!.state.generation
    // Abrupt: the network goes away without the leave announcement.
    await victim.node.net.stop()
    const survivors = all.slice(0, 4)
    await waitFor(() => survivors.every((r) => healthOf(r, id) === 'dead'), 20_000, 'dead on every survivor')
    await victim.node.stop().catch(() => {})
    running.splice(running.indexOf(victim), 1)
    const again = await start(victim.dir)
    running.push(again)
    await waitFor(() => survivors.every((r) => healthOf(r, id) === 'alive'), 20_000, 'alive again')
    for (const r of survivors) expect(r.membership.view().members.find((m) => m.nodeId === id)!.state.generation).toBeGreaterThan(generation)
  })

  it('should hear a node whose data dir was restored from a backup at once, not after its removal', async () => {
    // The backup holds an older generation than the peer heard since; with the count alone the restored node's
    // heartbeats were replays of that generation at every peer, dropped until the peer removed it (60 s after
    // `left`), and until then a policy would have replaced its roles.
    const [a, b] = await cluster(2)
    const id = b!.node.nodeId
    const file = path.join(b!.dir, 'generation')
    await copyFile(file, `${file}.backup`)
    // Restarted after the backup, heard long enough for the peer to hold a high seq of that generation (a fast
    // period stands for a long run): a replay of the same generation is dropped until its seq passes that one.
    await b!.node.stop()
    running.splice(running.indexOf(b!), 1)
    const second = await start(b!.dir, undefined, { heartbeatIntervalMs: 10 })
    running.push(second)
    const generationAt = (): number | undefined => a!.membership.view().members.find((m) => m.nodeId === id)?.state.generation
    const seqAt = (): number => a!.membership.view().members.find((m) => m.nodeId === id)?.state.seq ?? 0
    const ownGeneration = (r: Running): number => r.membership.view().members.find((m) => m.nodeId === id)!.state.generation
    const remembered = ownGeneration(second)
    await waitFor(() => healthOf(a!, id) === 'alive' && generationAt() === remembered && seqAt() >= 300, 20_000, 'the restarted node heard')
    await second.node.stop()
    running.splice(running.indexOf(second), 1)
    await waitFor(() => healthOf(a!, id) === 'left', 10_000, 'the stop reported')
    await copyFile(`${file}.backup`, file)
    const restored = await start(second.dir)
    running.push(restored)
    // At 200 ms a heartbeat, the count alone would reach seq 300 after a minute.
    await waitFor(() => healthOf(a!, id) === 'alive' && generationAt() === ownGeneration(restored), 10_000, 'the restored node heard')
    expect(ownGeneration(restored)).toBeGreaterThan(remembered)
    expect(a!.membership.counters()['dropped.replay'] ?? 0).toBe(0)
  })

  it('should drop a replayed heartbeat and a state claiming another node, and report a graceful stop as left', async () => {
    const [a, b, c] = await cluster(3)
    const topic = `revoada/${a!.node.cluster.clusterId}/membership/1`
    // A replay: b re-publishes one of its own old states (gossipsub signs it anew, our seq is old).
    const old = { ...b!.membership.view().members.find((m) => m.nodeId === b!.node.nodeId)!.state, seq: 1 }
    await b!.node.net.services.pubsub.publish(topic, encodeCanonical(old))
    await waitFor(() => (a!.membership.counters()['dropped.replay'] ?? 0) > 0, 10_000, 'replay dropped on a')
    // A forgery: b publishes a state that claims to be c.
    const forged = { ...old, nodeId: c!.node.nodeId, seq: 10_000_000 }
    await b!.node.net.services.pubsub.publish(topic, encodeCanonical(forged))
    await waitFor(() => (a!.membership.counters()['dropped.sender-mismatch'] ?? 0) > 0, 10_000, 'forgery dropped on a')
    expect(healthOf(a!, c!.node.nodeId)).toBe('alive')
    // Rejected heartbeats cost the forwarding peer its gossipsub score (the membership topic scores them).
    const score = (): number => (a!.node.net.services.pubsub as unknown as { score: { score(id: string): number } }).score.score(b!.node.nodeId)
    await waitFor(() => score() < 0, 10_000, 'forger penalized')
    // Graceful stop.
    const leaving = c!.node.nodeId
    // Judged on what the stop brought (a loaded machine may have suspected c a moment before it).
    const kindsSinceStop: string[] = []
    const unsubscribe = a!.membership.subscribe((_view, events) => { for (const e of events) if (e.nodeId === leaving) kindsSinceStop.push(e.kind) })
    await c!.node.stop()
    running.splice(running.indexOf(c!), 1)
    await waitFor(() => healthOf(a!, leaving) === 'left' && healthOf(b!, leaving) === 'left', 10_000, 'left')
    unsubscribe()
    expect(kindsSinceStop).toContain('left')
    expect(kindsSinceStop).not.toContain('dead')
  })
})
