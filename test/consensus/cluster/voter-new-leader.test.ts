/**
 * A voter whose configuration lags takes part in electing a leader it does not know (etcd accepts Raft
 * traffic from any peer not removed; so do we). Five voters a–e, of which c was down while d and e were
 * promoted; then a and b die. d and e are two of five: no quorum without c, and c's applied
 * configuration names only a, b and c. Without the rule c refuses d's and e's streams and the cluster
 * never elects a leader although three of its five voters run.
 */
import { afterEach, describe, it } from 'vitest'
import { crash, leaderOf, promoteEtcd, startCluster, startMember, stopAll, tempDir, waitFor } from './helpers.js'
import type { Member } from './helpers.js'

describe('a lagging voter and a new leader', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  it('should elect a leader with a voter whose configuration names neither the candidate nor its other voters', async () => {
    const [a, b, c] = members = await startCluster(3) as [Member, Member, Member]
    await promoteEtcd(a, b)
    await promoteEtcd(a, c)
    const voters = (m: Member): string[] => m.consensus.node.configuration().voters
    await waitFor(() => voters(c).length === 3 && c.consensus.node.appliedIndex() === a.consensus.node.appliedIndex(), 20_000, 'c a caught-up voter of three')

    // c goes down: its applied configuration stays "voters a, b, c".
    await c.node.stop()
    members = members.filter((m) => m !== c)
    const d = await startMember(await tempDir(), { join: a.node.joinString() })
    const e = await startMember(await tempDir(), { join: a.node.joinString() })
    members.push(d, e)
    await waitFor(() => a.consensus.node.configuration().learners.length === 2, 15_000, 'd and e admitted')
    await promoteEtcd(a, d)
    await promoteEtcd(a, e)
    await waitFor(() => [a, b, d, e].every((m) => voters(m).length === 5 && m.consensus.node.configuration().votersOutgoing.length === 0),
      20_000, 'five voters on every running member')

    await crash(a)
    await crash(b)
    members = members.filter((m) => m !== a && m !== b)
    // Back from its data dir through d's addresses: its configuration names neither d nor e.
    const back = await startMember(c.dir, { join: d.node.joinString() })
    members.push(back)
    const three = [back, d, e]
    // On a timeout, say where each of the three stands: a flake in CI (once, 30 s without this) is diagnosed from it.
    const standing = (): string => three.map((m) => {
      const s = m.consensus.node.status()
      return `${m.node.nodeId.slice(-6)}: ${s.role} term ${s.term} vote ${s.vote?.slice(-6) ?? '-'} leader ${s.leader?.slice(-6) ?? '-'} ` +
        `last ${s.lastIndex}/${s.lastTerm} commit ${s.commit} applied ${m.consensus.node.appliedIndex()} voters ${voters(m).map((v) => v.slice(-6)).join(',')}`
    }).join('; ')
    await waitFor(() => {
      const leader = leaderOf(three)
      return leader !== undefined && voters(back).length === 5 &&
        back.consensus.node.appliedIndex() >= leader.consensus.node.status().commit &&
        back.consensus.shapeMachine.shapeCid() === leader.consensus.shapeMachine.shapeCid()
    }, 30_000, 'a leader among c, d and e, and c caught up').catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}; ${standing()}`)
    })
  }, 120_000)
})
