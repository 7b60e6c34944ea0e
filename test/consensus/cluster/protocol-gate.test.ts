/**
 * The protocol level gate on three in-process nodes over real libp2p (rolling upgrades, docs/OPERATIONS.md).
 * Goals: (1) while one member advertises level 1 (injected: `protocolLevel: 1` in its config, then the
 * membership hook; not a real old build) the cluster stays at level 1, every envelope committed is v1 (the
 * batcher proposes one command per envelope, admission admits one peer at a time) and followers sign their
 * own commands instead of forwarding them; (2) once that member advertises the build's level, the leader
 * raises the cluster's and followers' commands travel as forwarded requests in v3 envelopes; (3) a committed
 * level above the build's halts every node that applies it (here all run this build: a majority applies
 * it, the last never learns it committed): nothing after it applies, the shape stays as it was, and the
 * node asks to stop with EXIT_CODE_PROTOCOL; (4) a joiner that advertises a level below the cluster's is
 * not admitted (counted in the leader's status, a warning naming both levels) until it advertises enough.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { decodeSignedProposal, PROTOCOL_LEVEL } from '../../../src/consensus/shape/core/index.js'
import type { BatchedCommand } from '../../../src/consensus/shape/core/index.js'
import { EXIT_CODE_PROTOCOL } from '../../../src/consensus/consensus-service.js'
import { capturingLogger, tempDir } from '../../node/helpers.js'
import { leaderOf, promoteEtcd, startMember, stopAll, waitFor } from './helpers.js'
import type { Member } from './helpers.js'

/** The envelope version of every shape entry `member` applies from now on. */
function versions (member: Member): number[] {
  const seen: number[] = []
  member.consensus.node.onApplied(({ command }) => {
    const proposal = decodeSignedProposal(command)
    if (proposal !== null) seen.push(proposal.envelope.v)
  })
  return seen
}

const proposals = (m: Member): { batches: number, requestsForwarded: number, groupsMerged: number } =>
  m.consensus.statusFields().proposals as { batches: number, requestsForwarded: number, groupsMerged: number }
const protocolOf = (m: Member): { cluster: number, build: number, raises: number } =>
  m.consensus.statusFields().protocol as { cluster: number, build: number, raises: number }

describe('protocol level gate on three nodes', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  /** Always applied (a pinned promote of a held role only pins it) or always rejected (nobody is quarantined). */
  const pinned = (m: Member): BatchedCommand => ({ command: { kind: 'promote', nodeId: m.node.nodeId, roles: ['etcd'], pin: true }, reason: 'operator' })
  const restore = (m: Member): BatchedCommand => ({ command: { kind: 'restore', nodeId: m.node.nodeId }, reason: 'operator' })

  /** 24 operator commands, 8 through each node, all at once. */
  async function burst (): Promise<void> {
    const calls = Array.from({ length: 24 }, async (_, i) => {
      const item = i % 2 === 0 ? pinned(members[(i + 1) % 3]!) : restore(members[(i + 2) % 3]!)
      return await members[i % 3]!.consensus.proposeOperator(item.command, item.reason)
    })
    const answers = await Promise.all(calls)
    answers.forEach((a, i) => { expect(a.result.outcome.kind === 'applied').toBe(i % 2 === 0) })
  }

  it('should start a fresh cluster at the build\'s level, with no raise', async () => {
    const a = await startMember(await tempDir())
    members = [a]
    await waitFor(() => a.consensus.shapeMachine.shape.size === 1, 10_000, 'bootstrapped')
    expect(a.consensus.shapeMachine.shape.protocol).toBe(PROTOCOL_LEVEL)
    expect(protocolOf(a)).toEqual({ cluster: PROTOCOL_LEVEL, build: PROTOCOL_LEVEL, raises: 0 })
  })

  it('should not admit a joiner below the cluster\'s level until it advertises it', async () => {
    const { log, lines } = capturingLogger('warn')
    const a = await startMember(await tempDir(), { log })
    members = [a]
    await waitFor(() => a.consensus.node.isLeader(), 10_000, 'the creator leads')
    // An "old build" joins: it advertises one level below the fresh cluster's (the build's).
    const b = await startMember(await tempDir(), { join: a.node.joinString(), extra: { protocolLevel: PROTOCOL_LEVEL - 1 } })
    members.push(b)
    const admission = (): unknown => a.consensus.statusFields().admission
    await waitFor(() => (admission() as { belowLevel: number }).belowLevel === 1, 30_000, 'the leader withholds the joiner')
    expect(admission()).toEqual({ belowLevel: 1, levelUnheard: 0 })
    expect(lines.some((l) => l.peer === b.node.nodeId && l.advertised === PROTOCOL_LEVEL - 1 && l.cluster === PROTOCOL_LEVEL &&
      /upgrade revoada on that node/.test(l.msg as string))).toBe(true)
    // A round now proposes nothing (without the check it would be admitting b, or have admitted it).
    const loop = (a.consensus as unknown as { admission: { round: () => void, admitting: boolean } }).admission
    loop.round()
    expect(loop.admitting).toBe(false)
    expect(a.consensus.node.configuration().learners).toEqual([])
    expect(a.consensus.shapeMachine.shape.has(b.node.nodeId)).toBe(false)
    // "Upgraded": it advertises the cluster's level, and the leader admits it on a later round.
    b.membership.advertiseProtocolLevel(PROTOCOL_LEVEL)
    await waitFor(() => b.consensus.node.configuration().learners.includes(b.node.nodeId), 30_000, 'the joiner admitted')
    expect(admission()).toEqual({ belowLevel: 0, levelUnheard: 0 })
  }, 120_000)

  it('should stay at level 1 with v1 envelopes only while a member advertises 1, then raise and forward', async () => {
    const a = await startMember(await tempDir(), { extra: { protocolLevel: 1 } })
    members = [a]
    const seenAtA = versions(a)
    await waitFor(() => a.consensus.node.isLeader(), 10_000, 'the creator leads')
    const join = a.node.joinString()
    // Both join at once: a wave the leader would admit in one v2 batch above level 1.
    members.push(...await Promise.all([startMember(await tempDir(), { join }), startMember(await tempDir(), { join })]))
    const [, b, c] = members as [Member, Member, Member]
    await waitFor(() => members.every((m) => {
      const conf = m.consensus.node.configuration()
      return conf.voters.length + conf.learners.length === 3
    }), 60_000, '3 members admitted everywhere')
    await promoteEtcd(a, b)
    await promoteEtcd(a, c)
    await waitFor(() => members.every((m) => m.consensus.node.configuration().voters.length === 3), 30_000, '3 voters everywhere')

    // 1. Level 1: the leader has heard every member (a at 1, b and c at the build's level) and does not raise.
    const leader = leaderOf(members)!
    const heard = (): Map<string, number | undefined> => new Map(leader.membership.view().members.map((m) => [m.nodeId, m.state.protocol]))
    await waitFor(() => heard().size === 3 && heard().get(a.node.nodeId) === 1 && heard().get(b.node.nodeId) === PROTOCOL_LEVEL && heard().get(c.node.nodeId) === PROTOCOL_LEVEL, 30_000, 'the leader heard every level')
    ;(leader.consensus as unknown as { protocolLoop: { round: () => void } }).protocolLoop.round()
    const seen = versions(leader)
    await burst()
    expect(members.map((m) => m.consensus.shapeMachine.shape.protocol)).toEqual([1, 1, 1])
    expect(members.map((m) => protocolOf(m).raises)).toEqual([0, 0, 0])
    // Each answer comes once its entry applied on the node it was asked on; the node that led when the burst
    // began applies first only while it still leads (an election on a loaded machine moves that).
    await waitFor(() => seen.length >= 24, 30_000, 'the burst\'s 24 entries applied on the first leader')
    expect(new Set([...seenAtA, ...seen])).toEqual(new Set([1]))
    for (const m of members) expect(proposals(m).requestsForwarded).toBe(0)

    // 2. The old member is "upgraded": it advertises the build's level, the leader raises, followers forward.
    a.membership.advertiseProtocolLevel(PROTOCOL_LEVEL)
    await waitFor(() => members.every((m) => m.consensus.shapeMachine.shape.protocol === PROTOCOL_LEVEL), 30_000, 'the cluster at the build\'s level')
    expect(members.reduce((n, m) => n + protocolOf(m).raises, 0)).toBe(1)
    const now = leaderOf(members)!
    const after = versions(now)
    await burst()
    expect(after).toContain(3)
    for (const f of members.filter((m) => m !== now)) expect(proposals(f).requestsForwarded).toBeGreaterThan(0)
    expect(proposals(now).groupsMerged).toBeGreaterThan(0)
    await waitFor(() => new Set(members.map((m) => m.consensus.shapeMachine.shapeCid())).size === 1, 30_000, 'one shape')

    // 3. A level above this build's (what a later build's leader would commit): every node halts on it.
    const cid = now.consensus.shapeMachine.shapeCid()
    const applied = members.map((m) => m.consensus.node.appliedIndex())
    await expect(now.consensus.propose({ kind: 'set-protocol', level: PROTOCOL_LEVEL + 1 }, 'operator')).rejects.toThrow()
    // A majority applies it and halts; the last node then never learns the entry committed (nobody is left
    // to tell it) and applies nothing more either.
    await waitFor(() => members.filter((m) => m.consensus.node.halted !== undefined).length >= 2, 30_000, 'a majority halted')
    for (const [i, m] of members.entries()) {
      expect(m.consensus.shapeMachine.shape.protocol).toBe(PROTOCOL_LEVEL)
      expect(m.consensus.shapeMachine.shapeCid()).toBe(cid)
      expect(m.consensus.node.appliedIndex()).toBeGreaterThanOrEqual(applied[i]!)
      if (m.consensus.node.halted === undefined) continue
      expect(m.consensus.node.halted.name).toBe('ProtocolLevelUnsupportedError')
      expect(m.consensus.node.isRunning).toBe(false)
      expect(await m.node.stopRequested).toMatchObject({ exitCode: EXIT_CODE_PROTOCOL, message: expect.stringMatching(/upgrade revoada/) })
    }
  }, 240_000)
})
