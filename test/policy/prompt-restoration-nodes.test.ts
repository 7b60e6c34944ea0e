/**
 * The policy engine replaces a dead voter without waiting for its debounce or its audit (issue 16,
 * src/policy/engine.ts): it evaluates at once when membership declares a role holder dead (`lostHolder`),
 * again at once when its demotion of that voter applied (the promotion that replaces it follows), and when
 * this node starts leading. Method: 5 in-process nodes at ha-three; then every engine's debounce and audit are
 * pushed out to an hour, and the leader crashes: the survivors must still reach 3 live voters — with either
 * immediate evaluation removed, nothing would evaluate within the test.
 */
import { afterEach, describe, it } from 'vitest'
import type { PolicyEngineInit } from '../../src/policy/engine.js'
import { crash, leaderOf, startCluster, stopAll, waitFor, FAST_POLICY } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'

const HOUR_MS = 3_600_000

describe('prompt restoration with real nodes', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  const atTarget = (m: Member, dead?: string): boolean => {
    const conf = m.consensus.node.configuration()
    return m.consensus.shapeMachine.shape.voters().length === 3 && conf.voters.length === 3 && conf.votersOutgoing.length === 0 &&
      (dead === undefined || !conf.voters.includes(dead))
  }

  it('should replace a dead leader\'s voter with the debounce and the audit an hour away', async () => {
    members = await startCluster(5, { policy: true, extra: { ...FAST_POLICY, policy: { ...FAST_POLICY.policy, auditIntervalMs: HOUR_MS } } })
    await waitFor(async () => await members[1]!.consensus.propose({ kind: 'set-target', target: { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 1 } }, 'operator')
      .then((r) => r.result.outcome.kind === 'applied', () => false), 60_000, 'target set')
    await waitFor(() => members.every((m) => atTarget(m)), 90_000, 'ha-three on every node')
    // From here on only the immediate evaluations can act (the engine's init is its own copy; a test reaches in).
    for (const m of members) (m.policy as unknown as { init: PolicyEngineInit }).init.debounceMs = HOUR_MS
    const old = leaderOf(members)!
    await crash(old)
    const survivors = members.filter((m) => m !== old)
    await waitFor(() => survivors.every((m) => atTarget(m, old.node.nodeId)), 60_000, '3 live voters without the old leader')
  }, 240_000)
})
