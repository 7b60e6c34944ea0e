/**
 * A site-wide power cut soon after formation (docs/MEMBERSHIP.md, "Where a node learns other members'
 * addresses"): two voters that never connected to each other — Raft followers need only reach the leader — come
 * back without the leader, which was the only node that knew both. `peers.json` listed the peers a node had
 * identified only, so each held the other's id and nothing to dial, and they elected nobody (seen with
 * real processes: test/policy/site-restart-processes.test.ts now waits for every node to record every other).
 * The members' own heartbeats, relayed by the leader, now put their addresses in the file. Method: three
 * in-process nodes; b and c refuse each other's connections (the fault hook), so they meet only through a's
 * relay of their heartbeats. Both are promoted in one joint change; once each has heard two heartbeats of the
 * other under that configuration, the leader is crashed and b and c stopped, then b and c alone start again on
 * their addresses, without the partition.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { KNOWN_PEERS_FILE_NAME } from '../../../src/net/constants.js'
import { crash, leaderOf, promoteTogether, startMember, stopAll, tempDir, waitFor } from './helpers.js'
import type { Member } from './helpers.js'

const loopbackAddress = (m: Member): string =>
  m.node.net.getMultiaddrs().map(String).find((addr) => addr.startsWith('/ip4/127.0.0.1/'))!.replace(/\/p2p\/.*$/, '')

describe('a power cut before two voters met', () => {
  let members: Member[] = []
  /** Crashed members still have their timers and API: stopped at the end. */
  let crashed: Member[] = []
  afterEach(async () => { await stopAll([...members, ...crashed]); members = []; crashed = [] })

  it('should let two voters that only heard each other through the leader elect after a restart without it', async () => {
    const apart = new Set<string>()
    const faults = { isBlocked: (peer: string) => apart.has(peer) }
    const a = await startMember(await tempDir())
    members.push(a)
    await waitFor(() => a.consensus.node.isLeader(), 30_000, 'the creator leads')
    const b = await startMember(await tempDir(), { join: a.node.joinString(), faults })
    apart.add(b.node.nodeId)
    members.push(b)
    const c = await startMember(await tempDir(), { join: a.node.joinString(), faults })
    apart.add(c.node.nodeId)
    members.push(c)
    await waitFor(() => [a, b, c].every((m) => m.consensus.node.configuration().learners.length === 2), 60_000, 'b and c admitted everywhere')
    await promoteTogether(a, b, c, [a, b, c])

    // Two heartbeats of the other accepted under that configuration (a relays them: b and c are not connected).
    const seqOf = (at: Member, of: Member): number => at.membership.view().members.find((m) => m.nodeId === of.node.nodeId)?.state.seq ?? 0
    const since = { b: seqOf(b, c), c: seqOf(c, b) }
    await waitFor(() => seqOf(b, c) >= since.b + 2 && seqOf(c, b) >= since.c + 2, 60_000, 'b and c hear each other through a')
    expect(b.node.net.getConnections(peerIdFromString(c.node.nodeId))).toHaveLength(0)

    // The power cut: the leader never comes back.
    const addresses = { b: loopbackAddress(b), c: loopbackAddress(c) }
    await crash(a)
    crashed.push(a)
    members = members.filter((m) => m !== a)
    await stopAll([b, c])
    members = []
    const known = async (at: Member): Promise<string[]> => Object.keys(JSON.parse(await readFile(path.join(at.dir, KNOWN_PEERS_FILE_NAME), 'utf8')) as object)
    expect(await known(b)).toContain(c.node.nodeId)
    expect(await known(c)).toContain(b.node.nodeId)

    const b2 = await startMember(b.dir, { extra: { listen: [addresses.b] } })
    members.push(b2)
    const c2 = await startMember(c.dir, { extra: { listen: [addresses.c] } })
    members.push(c2)
    await waitFor(() => leaderOf([b2, c2]) !== undefined, 60_000, 'a leader among b and c')
    const leader = leaderOf([b2, c2])!
    const result = await leader.consensus.propose({ kind: 'set-target', target: { apiServers: 1, etcd: 2, schedulers: 1, controllerManagers: 1, minWorkers: 0 } }, 'operator')
    expect(result.result.outcome.kind).toBe('applied')
  }, 300_000)
})
