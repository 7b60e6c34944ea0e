/**
 * The address window (docs/MEMBERSHIP.md, "Where a node learns other members' addresses"): two learners that
 * know of each other only by id — no heartbeat of the other reached them, so no address — become voters, and
 * their leader dies. Without the address lookup they hold each other's ids and nothing to dial: no election.
 * The test opens the window on purpose (a loaded machine opens it by chance: a promote within a heartbeat of
 * admission): it lets b and c hear each other, then removes what that taught them — the peer store entries
 * and the connection — so that only the configuration names the other.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { crash, leaderOf, promoteTogether, startMember, stopAll, tempDir, waitFor } from './helpers.js'
import type { Member } from './helpers.js'

describe('the address window', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  it('should let two voters that knew each other only by id elect after their leader dies', async () => {
    const a = await startMember(await tempDir())
    members.push(a)
    await waitFor(() => a.consensus.node.isLeader(), 30_000, 'the creator leads')
    const b = await startMember(await tempDir(), { join: a.node.joinString() })
    const c = await startMember(await tempDir(), { join: a.node.joinString() })
    members.push(b, c)
    await waitFor(() => [a, b, c].every((m) => m.consensus.node.configuration().learners.length === 2), 60_000, 'b and c admitted everywhere')
    const hears = (m: Member, other: Member): boolean => m.membership.view().members.some((x) => x.nodeId === other.node.nodeId && x.health === 'alive')
    await waitFor(() => hears(b, c) && hears(c, b), 60_000, 'b and c hear each other')

    // Forget: a member heard before is not re-learnt from later heartbeats, so nothing gives the addresses back.
    const idOf = (m: Member): ReturnType<typeof peerIdFromString> => peerIdFromString(m.node.nodeId)
    await b.node.net.peerStore.delete(idOf(c))
    await c.node.net.peerStore.delete(idOf(b))
    await b.node.net.hangUp(idOf(c))
    await c.node.net.hangUp(idOf(b))
    const addressesOf = async (at: Member, of: Member): Promise<number> => await at.node.net.peerStore.get(idOf(of)).then((p) => p.addresses.length, () => 0)
    expect(await addressesOf(b, c)).toBe(0)
    expect(await addressesOf(c, b)).toBe(0)

    // Both become voters in one joint change; the lookup asks the leader for the member each lacks.
    await promoteTogether(a, b, c, [a, b, c])
    await waitFor(async () => await addressesOf(b, c) > 0 && await addressesOf(c, b) > 0, 60_000, 'b and c hold each other\'s addresses again')

    await crash(a)
    members = members.filter((m) => m !== a)
    await waitFor(() => leaderOf([b, c]) !== undefined, 60_000, 'a new leader among b and c')
    // The new leader commits with the other's vote: the two reach each other.
    const leader = leaderOf([b, c])!
    const follower = leader === b ? c : b
    const result = await leader.consensus.propose({ kind: 'set-target', target: { apiServers: 1, etcd: 2, schedulers: 1, controllerManagers: 1, minWorkers: 0 } }, 'operator')
    expect(result.result.outcome.kind).toBe('applied')
    await waitFor(() => follower.consensus.node.appliedIndex() === leader.consensus.node.appliedIndex(), 60_000, 'the follower applied the new leader\'s entry')
  }, 300_000)
})
