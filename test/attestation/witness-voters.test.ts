/**
 * Only voters witness (DESIGN.md: "Voters co-sign (witness) each block's CID"): a learner signs and gossips
 * nothing, the voters' signatures still seal the chain, and a learner promoted to voter begins to witness.
 * At 50 members the learners' signatures — never counted by a seal — were most of the gossip after a leader
 * kill (docs/bench/scale.md, "After a leader kill at 50: what the survivors spend").
 */
import { afterEach, describe, expect, it } from 'vitest'
import { FAST, promoteEtcd, startCluster, stopAll, waitFor } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'

interface ChainStatus { height: number, sealedHeight: number, witnessesPublished: number }
const chainOf = (m: Member): ChainStatus => m.node.status().chain as ChainStatus

describe('witnessing', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  it('should let voters witness and seal while learners sign nothing, and start a promoted learner witnessing', async () => {
    members = await startCluster(3, { extra: { ...FAST, attestation: { sealIntervalMs: 100 } } })
    const [a, b, c] = members as [Member, Member, Member]
    // More blocks after both learners are in: each moves every head, which a witness signs.
    for (let i = 0; i < 3; i++) {
      const r = await a.consensus.propose({ kind: 'set-target', target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: i } }, 'operator')
      expect(r.result.outcome.kind).toBe('applied')
    }
    const top = chainOf(a).height
    await waitFor(() => chainOf(a).sealedHeight >= top - 1 && chainOf(b).height >= top && chainOf(c).height >= top, 60_000, 'the chain sealed by the voter, every head at the top')
    expect(chainOf(a).witnessesPublished).toBeGreaterThan(0)

    await promoteEtcd(a, b)
    await waitFor(() => chainOf(b).witnessesPublished > 0, 60_000, 'the promoted learner witnesses')
    // c applied every block b did, at the same pace, and stayed a learner: it signed none of them.
    expect(chainOf(c).witnessesPublished).toBe(0)
    const after = chainOf(a).height
    await waitFor(() => chainOf(a).sealedHeight >= after - 1, 60_000, 'sealed after the promotion')
  }, 180_000)

  it('should seal again after two voters become one: the demoted voter witnesses until a seal covers its departure', async () => {
    // Protocol level 8 (docs/CHAIN.md §4): a seal needs a majority of the voters where the chain was last sealed,
    // here both; the one demoted is a learner after it and would sign nothing (red without witnessesAt's hand-over).
    members = await startCluster(2, { extra: { ...FAST, attestation: { sealIntervalMs: 100 } } })
    const [a, b] = members as [Member, Member]
    await promoteEtcd(a, b)
    await waitFor(() => chainOf(a).sealedHeight >= chainOf(a).height - 1, 60_000, 'sealed with two voters')
    const demoted = await a.consensus.propose({ kind: 'demote', nodeId: b.node.nodeId, roles: ['etcd'] }, 'operator')
    expect(demoted.result.outcome.kind).toBe('applied')
    const top = chainOf(a).height
    await waitFor(() => chainOf(a).sealedHeight >= top, 60_000, 'a seal covering the demotion')
    // Covered, b is no voter and no hand-over voter: it stops witnessing, and a's lone seals go on.
    const r = await a.consensus.propose({ kind: 'set-target', target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 0 } }, 'operator')
    expect(r.result.outcome.kind).toBe('applied')
    const next = chainOf(a).height
    await waitFor(() => chainOf(a).sealedHeight >= next - 1, 60_000, 'sealed by the one voter')
  }, 180_000)
})
