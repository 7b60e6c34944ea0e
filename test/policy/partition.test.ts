/**
 * A network partition with real nodes (issue 5 item 6): isolate 2 of 5 (the Raft leader and a worker) with
 * the connection-gater fault hook, which cuts both the Raft transport and gossip. The minority never
 * commits nor promotes; the majority elects a leader, demotes the unreachable voter and promotes a
 * replacement; after the partition heals every node holds one consistent shape.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { leaderOf, startCluster, stopAll, waitFor, FAST_POLICY } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'


describe('partition', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  it('should let only the majority side act, and converge to one shape after healing', async () => {
    const sideOf = new Map<string, 'minority' | 'majority'>()
    let partitioned = false
    const selves: string[] = []
    members = await startCluster(5, {
      policy: true,
      extra: FAST_POLICY,
      faults: (i) => ({ isBlocked: (peer) => partitioned && sideOf.get(peer) !== undefined && sideOf.get(peer) !== sideOf.get(selves[i] ?? '') })
    })
    members.forEach((m, i) => { selves[i] = m.node.nodeId })
    await members[0]!.consensus.propose({ kind: 'set-target', target: { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 2 } }, 'operator')
    await waitFor(() => members.every((m) => m.consensus.node.configuration().voters.length === 3 && m.consensus.node.configuration().votersOutgoing.length === 0 &&
      m.consensus.shapeMachine.shape.holders('api-server').length === 3), 30_000, 'ha-three')

    // A leader may be between terms right after the last configuration change: wait for one. The minority is
    // the leader and a member outside the control plane (not a voter).
    await waitFor(() => leaderOf(members) !== undefined, 30_000, 'a leader after ha-three')
    const leader = leaderOf(members)!
    const voters = leader.consensus.node.configuration().voters
    const worker = members.find((m) => !voters.includes(m.node.nodeId))!
    const minority = [leader, worker]
    const majority = members.filter((m) => !minority.includes(m))
    for (const m of members) sideOf.set(m.node.nodeId, minority.includes(m) ? 'minority' : 'majority')
    const partitionAtMs = Date.now()
    partitioned = true
    for (const a of minority) for (const b of majority) await a.node.net.hangUp(peerIdFromString(b.node.nodeId)).catch(() => {})
    // The cut is complete once the hang-ups return: nothing the majority sends reaches the minority after that. An
    // entry the leader appended before then may still commit on the minority side — a majority voter acknowledged
    // it in time, and the leader's own WAL flush (asynchronous storage writes, persistence-pipeline.ts maybeFlush) counts its
    // vote later — so the commit index sampled here is no bound. The leader's last index is: nothing appended
    // after the cut (the minority's own proposals) can reach a quorum.
    const cutIndex = leader.consensus.node.status().lastIndex
    // Something the minority would commit if it could: a command proposed on its leader right after the cut (an
    // unpin the shape refuses, should it apply after healing). The leader still leads here (check-quorum steps it
    // down an election timeout later), so it appends it above cutIndex, where it must stay uncommitted.
    void leader.consensus.propose({ kind: 'unpin', nodeId: worker.node.nodeId }, 'operator').catch(() => {})

    await waitFor(() => {
      const l = leaderOf(majority)
      return l !== undefined && majority.every((m) => {
        const shape = m.consensus.shapeMachine.shape
        return !shape.holds(leader.node.nodeId, 'etcd') && shape.voters().length === 3 && m.consensus.node.configuration().voters.length === 3 &&
          m.consensus.node.configuration().votersOutgoing.length === 0
      })
    }, 45_000, 'the majority healed around the lost leader')
    // The minority committed nothing appended after the cut and promoted nobody while cut off.
    for (const m of minority) {
      expect(m.consensus.node.status().commit).toBeLessThanOrEqual(cutIndex)
      const promotions = m.policy!.decisions().filter((d) => d.atMs >= partitionAtMs).flatMap((d) => d.proposals).filter((p) => p.command.kind === 'promote')
      expect(promotions).toEqual([])
    }

    partitioned = false
    await waitFor(() => new Set(members.map((m) => m.consensus.shapeMachine.shapeCid())).size === 1 &&
      members.every((m) => m.consensus.node.appliedIndex() === majority[0]!.consensus.node.appliedIndex()), 45_000, 'one shape after healing')
    expect(members[0]!.consensus.shapeMachine.shape.rolesOf(leader.node.nodeId)).toEqual(['worker'])
  }, 240_000) // the per-test limit covers the condition waits above (the 30 s default did not)
})
