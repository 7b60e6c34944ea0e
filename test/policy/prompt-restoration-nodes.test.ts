/**
 * The policy engine replaces a dead voter without waiting for its debounce or its audit (issue 16,
 * src/policy/engine.ts): it evaluates at once when membership declares a role holder dead (`lostHolder`),
 * again at once when its demotion of that voter applied (the promotion that replaces it follows), and when
 * this node starts leading. Method: 5 in-process nodes at ha-three; then every engine's debounce and audit are
 * pushed out to an hour, and the leader crashes: the survivors must still reach 3 live voters — with either
 * immediate evaluation removed, nothing would evaluate within the test. The second case isolates the last
 * trigger: a follower voter dies while the leader's engine is held, so the verdict reaches the other engines
 * while they do not lead (they evaluate nothing); leadership then moves to one of them, and only its
 * evaluation on becoming leader can replace the dead voter. That evaluation waits until its learners have
 * answered it (bounded): before, it knows none of their logs, counted every learner as lagging and demoted the
 * dead voter alone (3 → 2 voters); after, it replaces it in one joint change, and no survivor sees 2 voters.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { PolicyEngineInit } from '../../src/policy/engine.js'
import { crash, leaderOf, startCluster, stopAll, waitFor, FAST_POLICY, atThreeVoters } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'

const HOUR_MS = 3_600_000

describe('prompt restoration with real nodes', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  /** 5 nodes at ha-three; then every engine's debounce and audit an hour away: only the immediate evaluations act. */
  const haThreeWithTimersAnHourAway = async (): Promise<void> => {
    members = await startCluster(5, { policy: true, extra: { ...FAST_POLICY, policy: { ...FAST_POLICY.policy, auditIntervalMs: HOUR_MS } } })
    await waitFor(async () => await members[1]!.consensus.propose({ kind: 'set-target', target: { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 1 } }, 'operator')
      .then((r) => r.result.outcome.kind === 'applied', () => false), 60_000, 'target set')
    await waitFor(() => members.every((m) => atThreeVoters(m)), 90_000, 'ha-three on every node')
    // The engine's init is its own copy; a test reaches in.
    for (const m of members) (m.policy as unknown as { init: PolicyEngineInit }).init.debounceMs = HOUR_MS
  }

  it('should replace a dead leader\'s voter with the debounce and the audit an hour away', async () => {
    await haThreeWithTimersAnHourAway()
    const old = leaderOf(members)!
    await crash(old)
    const survivors = members.filter((m) => m !== old)
    await waitFor(() => survivors.every((m) => atThreeVoters(m, old.node.nodeId)), 60_000, '3 live voters without the old leader')
  }, 240_000)

  it('should replace a voter found dead before this node led, as soon as it leads', async () => {
    await haThreeWithTimersAnHourAway()
    const leader = leaderOf(members)!
    const [doomed, heir] = leader.consensus.node.configuration().voters.filter((id) => id !== leader.node.nodeId).map((id) => members.find((m) => m.node.nodeId === id)!)
    // The leader's engine evaluates nothing from here on (a test reaches in): the verdict must not be acted on yet.
    ;(leader.policy as unknown as { running: boolean }).running = false
    await crash(doomed!)
    const deadAt = (m: Member): boolean => m.membership.view().members.some((x) => x.nodeId === doomed!.node.nodeId && (x.health === 'dead' || x.health === 'left'))
    await waitFor(() => deadAt(heir!) && deadAt(leader), 60_000, 'the dead voter declared dead')
    const survivors = members.filter((m) => m !== doomed)
    // From the transfer on: every shape a survivor applies, and Raft's configuration then, has 3 voters.
    const voterCounts: number[] = []
    for (const m of survivors) m.consensus.shapeMachine.onChange((shape) => { voterCounts.push(shape.voters().length, m.consensus.node.configuration().voters.length) })
    // The heir saw the verdict as a follower: its engine evaluated nothing then, and has no timer due within the test.
    leader.consensus.node.transferLeadership(heir!.node.nodeId)
    await waitFor(() => heir!.consensus.node.isLeader(), 60_000, 'the heir leads')
    await waitFor(() => survivors.every((m) => atThreeVoters(m, doomed!.node.nodeId)), 60_000, '3 live voters without the dead one')
    expect(voterCounts).not.toContain(2)
    const replacing = heir!.policy!.decisions().flatMap((d) => d.proposals).map((p) => p.command).filter((c) => c.kind === 'promote' && c.replacing !== undefined)
    expect(replacing.map((c) => c.kind === 'promote' && c.replacing)).toEqual([doomed!.node.nodeId])
  }, 240_000)
})
