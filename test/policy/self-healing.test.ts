/**
 * Self-healing end to end with real nodes in one process (issue 5 item 6, first part): 5 nodes, target
 * ha-three → 3 api-server/etcd holders (the 3 voters), 1 scheduler, 1 controller-manager; the leader
 * crashes → every role it held is re-assigned and the dead node demoted, voters back to 3; it restarts →
 * a worker and a learner, without oscillation.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { crash, leaderOf, startCluster, startMember, stopAll, waitFor, FAST_POLICY } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'


describe('self-healing', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  const shapeOf = (m: Member) => m.consensus.shapeMachine.shape
  const atTarget = (m: Member): boolean => {
    const s = shapeOf(m)
    return s.holders('api-server').length === 3 && s.voters().length === 3 && s.holders('scheduler').length === 1 &&
      s.holders('controller-manager').length === 1 && m.consensus.node.configuration().voters.length === 3 &&
      m.consensus.node.configuration().votersOutgoing.length === 0
  }

  it('should reach ha-three, heal after the leader crashes, and re-admit it as a worker without oscillation', async () => {
    members = await startCluster(5, { policy: true, extra: FAST_POLICY })
    const r = await members[1]!.consensus.propose({ kind: 'set-target', target: { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 3 } }, 'operator')
    expect(r.result.outcome.kind).toBe('applied')
    await waitFor(() => members.every(atTarget), 30_000, 'ha-three on every node')

    const old = leaderOf(members)!
    const oldId = old.node.nodeId
    const heldBefore = shapeOf(old).rolesOf(oldId)
    expect(heldBefore).toContain('etcd')
    await crash(old)
    const survivors = members.filter((m) => m !== old)
    await waitFor(() => survivors.every((m) => atTarget(m) && shapeOf(m).rolesOf(oldId).every((role) => role === 'worker')), 45_000, 'healed without the old leader')
    for (const m of survivors) expect(m.consensus.node.configuration().voters).not.toContain(oldId)

    await old.node.stop().catch(() => {})
    const back = await startMember(old.dir, { policy: true, extra: FAST_POLICY })
    members = [...survivors, back]
    await waitFor(() => back.consensus.shapeMachine.shapeCid() === survivors[0]!.consensus.shapeMachine.shapeCid(), 20_000, 'restarted node caught up')
    // Not the applied index: a seal or a new leader's empty entry may commit meanwhile on a loaded machine. A
    // shape command applied from here on is what an oscillation would commit.
    const applied: string[] = []
    survivors[0]!.consensus.shapeMachine.onChange((_shape, result) => { applied.push(`${result.index}: ${result.outcome.kind}`) })
    expect(shapeOf(back).rolesOf(oldId)).toEqual(['worker'])
    expect(back.consensus.node.configuration().learners).toContain(oldId)
    // No oscillation: once the returning node is stable, the leader's evaluation proposes nothing.
    await waitFor(() => back.membership.view().members.every((m) => m.health === 'alive') && survivors.every((m) => m.membership.view().members.find((x) => x.nodeId === oldId)?.health === 'alive'), 10_000, 'everyone alive')
    const leader = leaderOf(members)!
    await waitFor(() => {
      const decision = leader.policy!.tick('manual')
      return decision !== null && decision.proposals.length === 0 && decision.withheld.every((w) => w.code !== 'unstable')
    }, 10_000, 'a quiet evaluation')
    expect(applied).toEqual([])
    expect(members.every(atTarget)).toBe(true)
  }, 240_000) // the per-test limit covers the condition waits above (the 30 s default did not)
})
