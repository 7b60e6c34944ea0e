/**
 * The policy engine evaluates while entries keep applying (issue 16, src/policy/engine.ts `schedule`). Every
 * applied entry asks for an evaluation a debounce later; a request used to restart that wait, so while a client
 * wrote more often than once a debounce (250 ms) the engine evaluated nothing until the writes paused or the
 * audit came. At 50 nodes a leader kill showed it: the bench's write probe left ~100 forwarded writes that
 * committed 3–8 s after the kill, and the new leader proposed the dead voter's replacement only 3.8 s after its
 * verdict. Method: 5 in-process nodes at homelab (one voter), the audit an hour away; a writer sets the target
 * to ha-three every 40 ms, a few writes in flight, for the whole test. The first write raises the target; the
 * engine must promote two voters while the writes go on. With every request restarting the wait, the
 * evaluations that promote would never come within the test.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { atThreeVoters, startCluster, stopAll, waitFor, FAST_POLICY } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'

const HOUR_MS = 3_600_000
const HA_THREE = { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 1 }
const WRITE_EVERY_MS = 40
const MAX_IN_FLIGHT = 4

describe('policy evaluation under a steady stream of writes', () => {
  let members: Member[] = []
  let writing = false
  afterEach(async () => { writing = false; await stopAll(members); members = [] })

  it('should promote up to a raised target while writes keep applying', async () => {
    members = await startCluster(5, { policy: true, extra: { ...FAST_POLICY, policy: { ...FAST_POLICY.policy, auditIntervalMs: HOUR_MS } } })
    const writer = members[1]!
    let applied = 0
    let inFlight = 0
    writing = true
    const loop = setInterval(() => {
      if (!writing) { clearInterval(loop); return }
      if (inFlight >= MAX_IN_FLIGHT) return
      inFlight++
      writer.consensus.propose({ kind: 'set-target', target: HA_THREE }, 'operator')
        .then((r) => { if (r.result.outcome.kind === 'applied') applied++ }, () => {})
        .finally(() => { inFlight-- })
    }, WRITE_EVERY_MS)
    try {
      await waitFor(() => applied > 0, 60_000, 'the first write applied')
      const before = applied
      await waitFor(() => members.every((m) => atThreeVoters(m)), 90_000, 'ha-three on every node while the writes go on')
      // The writer was still writing: entries kept applying while the engine promoted.
      expect(applied).toBeGreaterThan(before)
    } finally {
      writing = false
      clearInterval(loop)
    }
  }, 240_000)
})
