/**
 * Formation from one voter to ha-three with real nodes (issue 16): 3 nodes in one process over real libp2p,
 * the policy engine on. Once both learners are stable and caught up, the target becomes ha-three; the leader's
 * policy promotes both in ONE command and the voters go 1 → 3 in one joint configuration change. No node
 * ever applies a shape with 2 voters, nor sees a Raft configuration of 2 voters (the 2-voter step stalled
 * every logged 25-node formation: every commit then waits on one new, starved voter).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startCluster, stopAll, waitFor, FAST_POLICY } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'
import { TARGET_PRESETS } from '../../src/consensus/shape/core/index.js'

describe('formation to ha-three with real nodes', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  it('should go from 1 voter to 3 in one joint change, never through 2', async () => {
    members = await startCluster(3, { policy: true, extra: FAST_POLICY })
    const leader = members[0]!
    const learners = members.slice(1).map((m) => m.node.nodeId)
    await waitFor(() => {
      const caughtUp = leader.consensus.caughtUpMembers()
      const alive = leader.membership.view().members.filter((m) => m.health === 'alive').map((m) => m.nodeId)
      return learners.every((id) => caughtUp?.has(id) === true && alive.includes(id))
    }, 30_000, 'both learners alive and caught up')
    // Alive without a break for twice the stabilization time (FAST_POLICY: 500 ms) before the target asks for
    // voters: a learner suspect meanwhile (a loaded machine) would be promoted later, alone.
    const aliveSince = new Map<string, number>()
    await waitFor(() => {
      const now = Date.now()
      const alive = new Set(leader.membership.view().members.filter((m) => m.health === 'alive').map((m) => m.nodeId))
      for (const id of learners) {
        if (!alive.has(id)) aliveSince.delete(id)
        else if (!aliveSince.has(id)) aliveSince.set(id, now)
      }
      return learners.every((id) => now - (aliveSince.get(id) ?? now) >= 1_000)
    }, 30_000, 'both learners alive for 1 s without a break')
    const voterCounts = members.map(() => [] as number[])
    const raftVoterCounts = members.map(() => [] as number[])
    members.forEach((m, i) => m.consensus.shapeMachine.onChange((shape) => {
      voterCounts[i]!.push(shape.voters().length)
      raftVoterCounts[i]!.push(m.consensus.node.configuration().voters.length)
    }))
    const r = await leader.consensus.propose({ kind: 'set-target', target: TARGET_PRESETS['ha-three'] }, 'operator')
    expect(r.result.outcome.kind).toBe('applied')
    await waitFor(() => members.every((m) => m.consensus.shapeMachine.shape.voters().length === 3 &&
      m.consensus.node.configuration().voters.length === 3 && m.consensus.node.configuration().votersOutgoing.length === 0), 60_000, '3 voters everywhere')
    for (const counts of voterCounts) expect(counts).toContain(3)
    // The Raft configuration follows the shape's voters (each voter move travels in its configuration
    // change), sampled here at every applied shape change.
    for (const counts of [...voterCounts, ...raftVoterCounts]) expect(counts).not.toContain(2)
    const promotions = leader.policy!.decisions().flatMap((d) => d.proposals).filter((p) => p.command.kind === 'promote' && p.command.roles.includes('etcd'))
    expect(promotions.map((p) => p.command.kind === 'promote' && [p.command.nodeId, ...(p.command.with ?? [])].sort())).toEqual([[...learners].sort()])
  }, 120_000)
})
