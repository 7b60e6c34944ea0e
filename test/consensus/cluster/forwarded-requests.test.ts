/**
 * Followers forward operator requests to the leader's batcher (issue 16), on three in-process nodes over
 * real libp2p (3 voters). Goals: (1) commands proposed at followers travel unsigned to the leader and
 * commit inside envelopes the leader signs, each group under its `via` naming the follower, while every
 * caller gets its own command's outcome; (2) a follower's request queued at a leader that then loses its
 * leadership (transfer, then a crash) is applied exactly once, and its callers are answered; (3) forwarded
 * requests that are garbage, oversized, of a kind that never travels in one, or under another node's id
 * are refused by the leader, counted, and change nothing; (4) a leader deposed while its envelope of its own
 * callers' commands and a follower's group is uncommitted answers its callers once the committed log rules
 * that envelope out, each command applied once.
 * Method: every applied entry on a surviving node is decoded; request ids are counted per group that
 * applied (a skipped duplicate is `duplicate-request`).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { decodeSignedProposal, encodeRequest, ForwardedRequestInvalidError } from '../../../src/consensus/shape/core/index.js'
import type { BatchedCommand, Outcome } from '../../../src/consensus/shape/core/index.js'
import { encodeCanonical } from '../../../src/codec/index.js'
import type { CommandResult } from '../../../src/consensus/proposal-batcher.js'
import type { ProposeOptions } from '../../../src/consensus/raft-node.js'
import { crash, leaderOf, promoteEtcd, startCluster, stopAll, waitFor } from './helpers.js'
import type { Member } from './helpers.js'

/** Applied shape entries as a node saw them: proposer, envelope version, groups (via owner, outcome codes). */
interface Seen { index: number, proposer: string, v: number, groups: Array<{ via?: string, owner?: string, codes: string[] }> }

const code = (o: Outcome): string => o.kind === 'applied' ? 'applied' : o.code

function watch (member: Member): Seen[] {
  const seen: Seen[] = []
  member.consensus.node.onApplied(({ entry, command, result }) => {
    const proposal = decodeSignedProposal(command)
    if (proposal === null) return
    const { envelope } = proposal
    const outcomes = result.outcomes ?? [result.outcome]
    let at = 0
    const groups = envelope.v === 3
      ? envelope.groups.map((g) => {
        const codes = outcomes.slice(at, at + g.commands.length).map(code)
        at += g.commands.length
        return g.via !== undefined ? { via: `${g.via.clientId}/${g.via.seq}`, owner: g.via.clientId.split('/')[0], codes } : { codes }
      })
      : [{ codes: outcomes.map(code) }]
    seen.push({ index: entry.index, proposer: envelope.proposer, v: envelope.v, groups })
  })
  return seen
}

/** Every command a member applies, as JSON, in order; copies skipped as `duplicate-request` left out. */
function appliedCommands (member: Member): string[] {
  const applied: string[] = []
  member.consensus.node.onApplied(({ command, result }) => {
    const proposal = decodeSignedProposal(command)
    if (proposal === null) return
    const { envelope } = proposal
    const commands = envelope.v === 1 ? [envelope.command] : envelope.v === 2 ? envelope.commands.map((c) => c.command) : envelope.groups.flatMap((g) => g.commands.map((c) => c.command))
    const outcomes = result.outcomes ?? [result.outcome]
    commands.forEach((c, i) => { if (outcomes[i] !== undefined && code(outcomes[i]) !== 'duplicate-request') applied.push(JSON.stringify(c)) })
  })
  return applied
}

/** The batcher of a member's consensus service (white box: to hook the moment a leader queues a group). */
const batcherOf = (member: Member): { submitGroup: (...args: unknown[]) => boolean } =>
  (member.consensus as unknown as { batcher: { submitGroup: (...args: unknown[]) => boolean } }).batcher

describe('forwarded operator requests on three nodes', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  async function threeVoters (): Promise<Member[]> {
    members = await startCluster(3)
    const [a, b, c] = members as [Member, Member, Member]
    await promoteEtcd(a, b)
    await promoteEtcd(a, c)
    await waitFor(() => members.every((m) => m.consensus.node.configuration().voters.length === 3), 30_000, '3 voters everywhere')
    return members
  }

  /** Always applied (a pinned promote of a held role only pins it) or always rejected (nobody is quarantined). */
  const pinned = (m: Member): BatchedCommand => ({ command: { kind: 'promote', nodeId: m.node.nodeId, roles: ['etcd'], pin: true }, reason: 'operator' })
  const restore = (m: Member): BatchedCommand => ({ command: { kind: 'restore', nodeId: m.node.nodeId }, reason: 'operator' })

  it('should commit followers\' commands in leader-signed envelopes under their via, each caller answered with its own outcome', async () => {
    await threeVoters()
    const leader = leaderOf(members)!
    const followers = members.filter((m) => m !== leader)
    const seen = watch(leader)
    const calls: Array<{ via: Member, kind: string, answer: Promise<CommandResult> }> = []
    for (let i = 0; i < 36; i++) {
      const via = members[i % 3]!
      const item = i % 2 === 0 ? pinned(members[(i + 1) % 3]!) : restore(members[(i + 2) % 3]!)
      calls.push({ via, kind: item.command.kind, answer: via.consensus.proposeOperator(item.command, item.reason) })
    }
    const answers = await Promise.all(calls.map(async (c) => await c.answer))
    answers.forEach((a, i) => {
      expect(code(a.result.outcome)).toBe(calls[i]!.kind === 'promote' ? 'applied' : 'not-quarantined')
    })
    // Every follower's command rode in an envelope the leader signed, in a group under its via.
    const followerIds = new Set(followers.map((f) => f.node.nodeId))
    expect(seen.filter((s) => followerIds.has(s.proposer))).toEqual([])
    const viaOwners = new Set(seen.flatMap((s) => s.groups.map((g) => g.owner)).filter((o) => o !== undefined))
    expect([...viaOwners].sort()).toEqual([...followerIds].sort())
    expect(seen.every((s) => s.proposer === leader.node.nodeId)).toBe(true)
    const merged = seen.filter((s) => s.v === 3)
    expect(merged.length).toBeGreaterThan(0)
    // Fewer envelopes than commands: the followers' requests were merged.
    expect(seen.filter((s) => s.index > 0).length).toBeLessThan(calls.length)
    // Each answer names its entry, and its place in it.
    for (const [i, a] of answers.entries()) {
      const entry = seen.find((s) => s.index === a.index)!
      const codes = entry.groups.flatMap((g) => g.codes)
      if (a.batch !== undefined) expect(codes[a.batch.position]).toBe(code(a.result.outcome))
      if (calls[i]!.via !== leader) expect(a.batch?.commands).toBe(codes.length)
    }
    for (const f of followers) {
      expect(f.consensus.statusFields().proposals).toMatchObject({ batches: 0 })
      expect((f.consensus.statusFields().proposals as { requestsForwarded: number }).requestsForwarded).toBeGreaterThan(0)
    }
    expect((leader.consensus.statusFields().proposals as { groupsMerged: number }).groupsMerged).toBeGreaterThan(0)
    await waitFor(() => members.every((m) => m.consensus.shapeMachine.shapeCid() === leader.consensus.shapeMachine.shapeCid()), 30_000, 'one shape')
  }, 180_000)

  it('should apply a request queued at a leader that then steps down or dies exactly once, and answer its callers', async () => {
    await threeVoters()
    const first = leaderOf(members)!
    const [f1, f2] = members.filter((m) => m !== first) as [Member, Member]
    const seen = new Map(members.map((m) => [m, watch(m)]))

    // 1. The leader loses the request it queued with its leadership, to the very follower that sent it:
    // that node, leading now, takes its own pending request into its own envelope.
    const original = batcherOf(first).submitGroup.bind(batcherOf(first))
    let swallowed = false
    batcherOf(first).submitGroup = (...args: unknown[]) => {
      if (swallowed) return original(...args)
      swallowed = true
      return true
    }
    const handing = Promise.all([restore(f2), pinned(first)].map(async (item) => await f1.consensus.proposeOperator(item.command, item.reason)))
    await waitFor(() => swallowed, 30_000, 'the leader took the request')
    await waitFor(() => {
      if (first.consensus.node.isLeader()) first.consensus.node.transferLeadership(f1.node.nodeId)
      return f1.consensus.node.isLeader()
    }, 30_000, 'f1 leads')
    const handedOver = await handing
    expect(handedOver.map((a) => code(a.result.outcome))).toEqual(['not-quarantined', 'applied'])
    // Its own request, taken by itself as leader: an envelope of f1 names f1 as the node it came through.
    expect(seen.get(f1)!.some((s) => s.proposer === f1.node.nodeId && s.groups.some((g) => g.owner === f1.node.nodeId))).toBe(true)

    // 2. A follower forwards to the leader, which dies as soon as it queued the request (its envelope may
    // reach the others, commit, or die with it): the follower retries with the next leader.
    await waitFor(() => leaderOf(members) !== undefined, 30_000, 'a leader')
    const second = leaderOf(members)!
    const sender = members.find((m) => m !== second)!
    const witness = members.find((m) => m !== second && m !== sender)!
    const secondOriginal = batcherOf(second).submitGroup.bind(batcherOf(second))
    let killed: Promise<void> | undefined
    batcherOf(second).submitGroup = (...args: unknown[]) => {
      const taken = secondOriginal(...args)
      if (taken && killed === undefined) killed = new Promise((resolve) => setImmediate(() => { setImmediate(() => { void crash(second).then(resolve) }) }))
      return taken
    }
    const survived = await Promise.all([pinned(sender), restore(witness), pinned(witness)].map(async (item) => await sender.consensus.proposeOperator(item.command, item.reason)))
    expect(killed).toBeDefined()
    await killed
    expect(survived.map((a) => code(a.result.outcome))).toEqual(['applied', 'not-quarantined', 'applied'])
    await waitFor(() => witness.consensus.node.appliedIndex() >= Math.max(...survived.map((a) => a.index)), 30_000, 'the witness applied the answers')

    // Every request id that applied, applied once (a copy committed twice is skipped as duplicate-request).
    const applied = new Map<string, number>()
    for (const s of seen.get(witness)!) {
      for (const g of s.groups) {
        if (g.via === undefined || g.codes.every((c) => c === 'duplicate-request')) continue
        applied.set(g.via, (applied.get(g.via) ?? 0) + 1)
      }
    }
    expect([...applied.values()].every((n) => n === 1)).toBe(true)
    // Phase 1's requests and phase 2's.
    expect(applied.size).toBeGreaterThanOrEqual(2)
  }, 180_000)

  it('should answer a deposed leader\'s own callers whose envelope, merged with a follower\'s group, can no longer commit, applying each command once', async () => {
    await threeVoters()
    const leader = leaderOf(members)!
    const [follower, witness] = members.filter((m) => m !== leader) as [Member, Member]
    const applied = appliedCommands(witness)
    // The leader's Raft messages can be dropped (white box: its driver's transport), its inbound kept.
    const transport = (leader.consensus.node as unknown as { transport: { send: (m: unknown) => void } }).transport
    const send = transport.send.bind(transport)
    let cut = false
    transport.send = (m) => { if (!cut) send(m) }
    // What its service asks the driver (white box): which envelope is leader-only, which deadline goes again.
    const node = leader.consensus.node
    const proposeAt = node.propose.bind(node)
    const asked: ProposeOptions[] = []
    let lostDeadline: number | undefined
    node.propose = (command, options = {}) => {
      asked.push(options)
      const answer = proposeAt(command, options)
      answer.catch((err: Error & { deadlineMs?: number }) => { if (err.name === 'ProposalLostError') lostDeadline = err.deadlineMs })
      return answer
    }
    // Its batcher holds everything back until its own callers' commands and the follower's group both wait,
    // so that one envelope carries them (white box: the batcher's in-flight check).
    const batcher = leader.consensus as unknown as { batcher: { busy?: () => boolean, dispatch: () => void, queue: Array<{ kind: string }> } }
    batcher.batcher.busy = () => true
    const own = [pinned(follower), restore(witness)].map(async (item) => await leader.consensus.proposeOperator(item.command, item.reason))
    const forwarded = [pinned(witness), restore(leader)].map(async (item) => await follower.consensus.proposeOperator(item.command, item.reason))
    await waitFor(() => batcher.batcher.queue.some((w) => w.kind === 'group'), 30_000, 'the leader queued the follower\'s group')
    // Cut off, it appends the merged envelope that nobody else receives, and loses its leadership.
    cut = true
    const before = leader.consensus.node.status().lastIndex
    delete batcher.batcher.busy
    batcher.batcher.dispatch()
    await waitFor(() => leader.consensus.node.status().lastIndex > before, 30_000, 'the envelope appended')
    await waitFor(() => !leader.consensus.node.isLeader() && (follower.consensus.node.isLeader() || witness.consensus.node.isLeader()), 30_000, 'a successor')
    cut = false
    const healedAt = Date.now()
    // Answered well before the 30 s operation timeout: the envelope was ruled out, its own commands went again.
    const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 15_000).unref())
    const answers = await Promise.race([Promise.all([...own, ...forwarded]), late])
    expect(answers).not.toBe('late')
    expect(Date.now() - healedAt).toBeLessThan(15_000)
    const results = answers as CommandResult[]
    expect(results.map((a) => code(a.result.outcome))).toEqual(['applied', 'not-quarantined', 'applied', 'not-quarantined'])
    expect(leader.consensus.node.counters().proposalsLost).toBe(1)
    expect(leader.consensus.statusFields().proposals).toMatchObject({ commandsResubmitted: 2 })
    // The merged envelope was proposed leader-only; its own commands went again with its deadline, not a fresh one.
    expect(asked.filter((o) => o.leaderOnly === true)).toHaveLength(1)
    expect(lostDeadline).toEqual(expect.any(Number))
    expect(asked.filter((o) => o.deadlineMs === lostDeadline)).toHaveLength(1)
    // Each of the four commands applied exactly once (the lost envelope never committed anywhere).
    await waitFor(() => witness.consensus.node.appliedIndex() >= Math.max(...results.map((a) => a.index)), 30_000, 'the witness applied the answers')
    const counts = [pinned(follower), restore(witness), pinned(witness), restore(leader)].map((item) => applied.filter((c) => c === JSON.stringify(item.command)).length)
    expect(counts).toEqual([1, 1, 1, 1])
  }, 180_000)

  it('should answer a refused request to its follower, which fails exactly its callers at once', async () => {
    await threeVoters()
    const leader = leaderOf(members)!
    const [refused, other] = members.filter((m) => m !== leader) as [Member, Member]
    // The leader refuses every request from `refused` for good (white box: its intake's verdict), takes the others'.
    const service = leader.consensus as unknown as { takeRequest: (command: Uint8Array, id: unknown, from: string) => Error | null }
    const take = service.takeRequest.bind(leader.consensus)
    service.takeRequest = (command, id, from) => from === refused.node.nodeId ? new ForwardedRequestInvalidError('forwarded request: refused by the test') : take(command, id, from)
    const startedAt = Date.now()
    const failing = [restore(other), pinned(leader), restore(leader)].map(async (item) => await refused.consensus.proposeOperator(item.command, item.reason).then(() => null, (err: Error) => err))
    const fine = [pinned(other), restore(refused)].map(async (item) => await other.consensus.proposeOperator(item.command, item.reason))
    const errors = await Promise.all(failing)
    // Well before the 30 s operation timeout: the leader's answer, not the timeout, failed them.
    expect(Date.now() - startedAt).toBeLessThan(10_000)
    expect(errors.map((e) => e?.name)).toEqual(['ForwardedRequestRefusedError', 'ForwardedRequestRefusedError', 'ForwardedRequestRefusedError'])
    expect(errors[0]!.message).toMatch(/refused by the test/)
    // The other follower's callers are answered as usual.
    expect((await Promise.all(fine)).map((a) => code(a.result.outcome))).toEqual(['applied', 'not-quarantined'])
    expect(leader.consensus.node.counters()).toMatchObject({ refusalsAnswered: expect.any(Number) })
    expect(leader.consensus.node.counters().refusalsAnswered).toBeGreaterThanOrEqual(1)
    expect(refused.consensus.node.counters().requestsRefusedByLeader).toBeGreaterThanOrEqual(1)
  }, 180_000)

  it('should refuse malformed, oversized, unbatchable and foreign forwarded requests, counted, changing nothing', async () => {
    await threeVoters()
    const leader = leaderOf(members)!
    const follower = members.find((m) => m !== leader)!
    const other = members.find((m) => m !== leader && m !== follower)!
    const seen = watch(leader)
    const id = (seq: number, owner = follower.node.nodeId): { clientId: string, seq: number } => ({ clientId: `${owner}/evil`, seq })
    const longId = `${'x'.repeat(120)}`
    const bad = [
      // Garbage after the request's first bytes.
      Uint8Array.from([0xa1, 0x67, 0x72, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74, 0xff, 0x00]),
      // Another node's request id.
      encodeRequest({ id: id(1, other.node.nodeId), commands: [restore(other)] }),
      // A kind that never travels in a request, and too many commands.
      encodeCanonical({ request: { id: id(2), commands: [{ command: { kind: 'remove-member', nodeId: other.node.nodeId }, reason: 'operator' }] } }),
      encodeCanonical({ request: { id: id(3), commands: Array.from({ length: 65 }, () => restore(other)) } }),
      // Within the count, over the bytes (64 commands naming 120-character ids).
      encodeRequest({ id: id(4), commands: Array.from({ length: 64 }, () => ({ command: { kind: 'promote', nodeId: longId, roles: ['api-server', 'etcd', 'scheduler', 'controller-manager'] }, reason: 'operator' })) }),
      // A voter move: proposed signed and alone, never in a request.
      encodeRequest({ id: id(5), commands: [{ command: { kind: 'promote', nodeId: longId, roles: ['etcd'] }, reason: 'operator' }] })
    ]
    // Proposed on the follower's driver as they are: it forwards them to the leader like any proposal.
    for (const bytes of bad) follower.consensus.node.propose(bytes).catch(() => {})
    await waitFor(() => leader.consensus.node.counters().refusedRequests >= bad.length, 30_000, 'every bad request refused')
    // Nothing of them was ever committed: an honest request applies after them and is the only new group.
    const ok = await follower.consensus.proposeOperator(restore(other).command, 'operator')
    expect(code(ok.result.outcome)).toBe('not-quarantined')
    const groups = seen.flatMap((s) => s.groups).filter((g) => g.via !== undefined)
    expect(groups.map((g) => g.owner)).toEqual([follower.node.nodeId])
    expect(groups.every((g) => !g.via!.includes('/evil/'))).toBe(true)
  }, 180_000)
})
