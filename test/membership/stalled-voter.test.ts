/**
 * A voter killed in a tiered cluster, judged by a surviving voter that runs starved (docs/MEMBERSHIP.md, "The
 * observer's own stalls"): 7 in-process nodes, 3 voters and 4 learners (injected configuration, tiered above
 * 4). The judge's clock moves only in jumps of 1.2 s, so each of its ticks that sees time pass is a stall of
 * its own, excused for every member it still has a connection to. The killed voter has none left: its
 * silence counts in full and its verdict comes within a few stalled ticks. Were the stalls excused for it
 * too, each stalled tick would count 100 ms (the tick period) of its silence, and ≈ 1.5 s of silence (the
 * hinted threshold at a 200 ms heartbeat) plus 0.7 s of suspicion would take at least 22 of them.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import type { RaftMembers } from '../../src/membership/core/index.js'
import { steadyNowMs } from '../../src/util/clock.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

interface Running { node: RevoadaNode, membership: MembershipService }

const N = 7
const VOTERS = 3
/** Each jump of the judge's clock: longer than a tick by more than LOCAL_STALL_MIN_MS. */
const JUMP_MS = 1200
/** Stalled ticks (hence jumps) the old rule needs at least, by the arithmetic above; this rule needs ≈ 4. */
const OLD_RULE_MIN_STALLS = 22

describe('a starved voter judging a killed voter', () => {
  const running: Running[] = []
  let jumper: NodeJS.Timeout | undefined
  afterEach(async () => {
    clearInterval(jumper)
    await Promise.all(running.splice(0).map(async (r) => { await r.node.stop().catch(() => {}) }))
  })

  it('should declare it dead within a few of its own stalls while every connected member stays alive', async () => {
    const raft: { conf: RaftMembers | undefined, leader: string } = { conf: undefined, leader: '' }
    // The judge's clock: the steady clock until it freezes, then only the jumps move it.
    const clock = { frozenAt: undefined as number | undefined, skew: 0, jumps: 0 }
    const judgeNow = (): number => (clock.frozenAt ?? steadyNowMs()) + clock.skew
    const start = async (opts: { join?: string, nowMs?: () => number }): Promise<Running> => {
      const dir = await tempDir()
      let self = ''
      const membership = new MembershipService({ raftConfiguration: () => raft.conf, isLeader: () => self !== '' && self === raft.leader, tieredAboveMembers: 4, ...(opts.nowMs !== undefined ? { nowMs: opts.nowMs } : {}) })
      const node = await startNode({ config: testConfig(dir, { ...(opts.join !== undefined ? { join: opts.join } : {}), membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
      self = node.nodeId
      return { node, membership }
    }
    const first = await start({})
    running.push(first)
    const judge = await start({ join: first.node.joinString(), nowMs: judgeNow })
    running.push(judge)
    running.push(...await Promise.all(Array.from({ length: N - 2 }, async () => await start({ join: first.node.joinString() }))))
    const healthOf = (r: Running, id: string): string | undefined => r.membership.view().members.find((m) => m.nodeId === id)?.health
    await waitFor(() => running.every((r) => running.every((o) => healthOf(r, o.node.nodeId) === 'alive')), 30_000, `${N} alive everywhere (full mode)`)

    const [leader, , victim] = running as [Running, Running, Running]
    const learners = running.slice(VOTERS)
    raft.leader = leader.node.nodeId
    raft.conf = { voters: running.slice(0, VOTERS).map((r) => r.node.nodeId), votersOutgoing: [], learners: learners.map((r) => r.node.nodeId), learnersNext: [] }
    await waitFor(() => learners.every((r) => !r.membership.tierStatus().listening), 15_000, 'learners on the digest')
    // Each node takes its tier on its own next tick: on a loaded machine the judge's may come after the learners'.
    await waitFor(() => judge.membership.tierStatus().tier === 'voter', 15_000, 'the judge a tiered voter')
    expect(judge.membership.tierStatus()).toEqual({ tier: 'voter', listening: true })

    // The judge starves: its clock freezes and jumps 1.2 s every 100 ms.
    clock.frozenAt = steadyNowMs()
    jumper = setInterval(() => { clock.skew += JUMP_MS; clock.jumps++ }, 100)
    await waitFor(() => clock.jumps >= OLD_RULE_MIN_STALLS, 30_000, 'the judge starved for a while')
    // Its stalls are excused for everyone it is connected to: nobody turned suspect.
    expect(judge.membership.view().members.map((m) => m.health)).toEqual(Array(N).fill('alive'))

    let jumpsAtVerdict: number | undefined
    judge.membership.subscribe((_view, events) => {
      if (jumpsAtVerdict === undefined && events.some((e) => e.kind === 'dead' && e.nodeId === victim.node.nodeId)) jumpsAtVerdict = clock.jumps
    })
    await victim.node.net.stop()
    const jumpsAtKill = clock.jumps
    await waitFor(() => jumpsAtVerdict !== undefined, 30_000, 'the judge declares the killed voter dead')
    // Every stalled tick of the judge took at least one jump.
    expect(jumpsAtVerdict! - jumpsAtKill).toBeLessThan(OLD_RULE_MIN_STALLS / 2)
    // The members still connected to it stayed alive through the same stalls.
    for (const r of running.filter((o) => o !== victim)) expect(healthOf(judge, r.node.nodeId)).toBe('alive')
  }, 120_000)
})
