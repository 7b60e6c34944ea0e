/**
 * Tiered failure detection, pure parts (core/tier.ts, MemberTable.adopt): the tier a configuration gives a node,
 * when an observer must listen again, which digests are trusted, and how a digest becomes an observer's view.
 */
import { describe, expect, it } from 'vitest'
import { MemberTable, MembershipConstants, judgeDigest, observerMustListen, parseDigest, tierOf, digestRecord } from '../../src/membership/core/index.js'
import type { LivenessDigest, NodeState, RaftMembers } from '../../src/membership/core/index.js'
import { decodeCanonical, encodeCanonical } from '../../src/codec/index.js'

const state = (nodeId: string, extra: Partial<NodeState> = {}): NodeState => ({
  nodeId, clusterId: 'c1', addresses: ['/ip4/127.0.0.1/tcp/1'], roles: ['worker'],
  capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 }, labels: { zone: 'a' },
  version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation: 1, seq: 1, leaving: false, protocol: 1, ...extra
})

const conf = (voters: string[], learners: string[], extra: Partial<RaftMembers> = {}): RaftMembers => ({ voters, votersOutgoing: [], learners, learnersNext: [], ...extra })
const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

describe('tierOf', () => {
  const big = conf(['v0', 'v1', 'v2'], ids('l', 5))

  it('should be full at or below the threshold and for nodes outside the configuration', () => {
    expect(tierOf(big, 'v0', 8)).toBe('full')
    expect(tierOf(big, 'l0', 8)).toBe('full')
    expect(tierOf(undefined, 'v0', 1)).toBe('full')
    // A joiner the configuration does not list keeps listening, however large the cluster.
    expect(tierOf(big, 'joiner', 1)).toBe('full')
  })

  it('should make voters detect and learners observe above the threshold', () => {
    expect(tierOf(big, 'v1', 7)).toBe('voter')
    expect(tierOf(big, 'l4', 7)).toBe('observer')
    // Both halves of a joint configuration vote; a learner-to-be still observes.
    const joint = conf(['v0', 'v1', 'v2'], ids('l', 5), { votersOutgoing: ['old'], learnersNext: ['old2'] })
    expect(tierOf(joint, 'old', 7)).toBe('voter')
    expect(tierOf(joint, 'old2', 7)).toBe('observer')
  })

  it('should count a member listed in both halves once', () => {
    const joint = conf(['a', 'b'], [], { votersOutgoing: ['a', 'b', 'c'] })
    expect(tierOf(joint, 'a', 2)).toBe('voter')
    expect(tierOf(joint, 'a', 3)).toBe('full')
  })
})

describe('observerMustListen', () => {
  it('should listen only once no digest came for the stale time, counted from becoming an observer', () => {
    expect(observerMustListen({ observerSinceMs: 1000, lastDigestMs: undefined, nowMs: 3999, staleMs: 3000 })).toBe(false)
    expect(observerMustListen({ observerSinceMs: 1000, lastDigestMs: undefined, nowMs: 4001, staleMs: 3000 })).toBe(true)
    expect(observerMustListen({ observerSinceMs: 1000, lastDigestMs: 5000, nowMs: 7000, staleMs: 3000 })).toBe(false)
    expect(observerMustListen({ observerSinceMs: 1000, lastDigestMs: 5000, nowMs: 8001, staleMs: 3000 })).toBe(true)
  })
})

describe('judgeDigest', () => {
  const voters = conf(['v0', 'v1', 'v2'], ['l0', 'l1'])
  const digest = (extra: Partial<LivenessDigest> = {}): LivenessDigest => ({
    clusterId: 'c1', from: 'v0', generation: 3, seq: 7, members: [{ health: 'alive', state: state('v0') }, { health: 'dead', state: state('l1') }], ...extra
  })
  const judge = (d: unknown, sender = 'v0', last?: { generation: number, seq: number }): ReturnType<typeof judgeDigest> =>
    judgeDigest({ decoded: decodeCanonical(encodeCanonical(d)), sender, clusterId: 'c1', conf: voters, lastFrom: last })

  it('should accept a digest from a voter of this node\'s own configuration, after a canonical round trip', () => {
    const verdict = judge(digestRecord(digest()))
    expect(verdict.ok).toBe(true)
    if (verdict.ok) expect(verdict.digest).toEqual(digest())
  })

  it('should drop a digest from a peer its configuration does not list as voter, whatever it claims', () => {
    expect(judge(digestRecord(digest({ from: 'l0' })), 'l0')).toEqual({ ok: false, reason: 'digest-not-voter', reject: false })
    expect(judge(digestRecord(digest({ from: 'stranger' })), 'stranger')).toEqual({ ok: false, reason: 'digest-not-voter', reject: false })
    expect(judgeDigest({ decoded: digestRecord(digest()), sender: 'v0', clusterId: 'c1', conf: undefined, lastFrom: undefined }))
      .toEqual({ ok: false, reason: 'digest-not-voter', reject: false })
  })

  it('should reject misattributed, foreign and malformed digests and ignore replays', () => {
    expect(judge(digestRecord(digest()), 'v1')).toMatchObject({ reason: 'digest-sender-mismatch', reject: true })
    expect(judge(digestRecord(digest({ clusterId: 'c2', members: [] })))).toMatchObject({ reason: 'digest-wrong-cluster', reject: true })
    expect(judge(digestRecord(digest({ members: [{ health: 'alive', state: state('x', { clusterId: 'c2' }) }] })))).toMatchObject({ reason: 'digest-malformed' })
    expect(judge({ ...digestRecord(digest()), members: [{ health: 'zombie', state: state('x') }] })).toMatchObject({ reason: 'digest-malformed', reject: true })
    expect(judge({ ...digestRecord(digest()), members: [{ health: 'alive', state: state('x') }, { health: 'dead', state: state('x') }] })).toMatchObject({ reason: 'digest-malformed' })
    expect(judge({ ...digestRecord(digest()), seq: -1 })).toMatchObject({ reason: 'digest-malformed' })
    expect(judge(digestRecord(digest()), 'v0', { generation: 3, seq: 7 })).toEqual({ ok: false, reason: 'digest-replay', reject: false })
    expect(judge(digestRecord(digest()), 'v0', { generation: 4, seq: 1 })).toMatchObject({ reason: 'digest-replay' })
    expect(judge(digestRecord(digest()), 'v0', { generation: 3, seq: 6 }).ok).toBe(true)
  })

  it('should bound the member count', () => {
    const members = Array.from({ length: 1025 }, (_, i) => ({ health: 'alive', state: state(`m${i}`) }))
    expect(parseDigest({ ...digestRecord(digest()), members })).toBeNull()
  })
})

describe('MemberTable.adopt (digest → view)', () => {
  const table = (): MemberTable => new MemberTable({ self: state('self') })
  const health = (t: MemberTable, id: string): string | undefined => t.view(0).members.find((m) => m.nodeId === id)?.health

  it('should take members and their health from the digest, skipping itself and unknown dead members', () => {
    const t = table()
    const events = t.adopt([{ health: 'alive', state: state('a') }, { health: 'suspect', state: state('b') }, { health: 'dead', state: state('c') }, { health: 'alive', state: state('self') }], 1000)
    expect(events.map((e) => `${e.kind}:${e.nodeId}`)).toEqual(['joined:a', 'joined:b'])
    expect(t.view(1000).members.map((m) => `${m.nodeId}:${m.health}`)).toEqual(['a:alive', 'b:suspect', 'self:alive'])
  })

  it('should follow the voters\' verdicts, never roll back to an older state, and mark unlisted live members dead', () => {
    const t = table()
    t.adopt([{ health: 'alive', state: state('a', { seq: 5 }) }, { health: 'alive', state: state('b') }], 1000)
    expect(t.adopt([{ health: 'dead', state: state('a', { seq: 5 }) }, { health: 'alive', state: state('b', { seq: 2 }) }], 2000).map((e) => e.kind)).toEqual(['dead'])
    expect(health(t, 'a')).toBe('dead')
    // An older state of `a` (a replay through another voter) is skipped.
    expect(t.adopt([{ health: 'alive', state: state('a', { seq: 4 }) }, { health: 'alive', state: state('b', { seq: 3 }) }], 3000)).toEqual([])
    expect(health(t, 'a')).toBe('dead')
    // A restart (newer generation) recovers it.
    expect(t.adopt([{ health: 'alive', state: state('a', { generation: 2, seq: 1 }) }, { health: 'alive', state: state('b', { seq: 4 }) }], 4000).map((e) => e.kind)).toEqual(['recovered'])
    // `b` is no longer listed: dead.
    expect(t.adopt([{ health: 'alive', state: state('a', { generation: 2, seq: 2 }) }], 5000).map((e) => `${e.kind}:${e.nodeId}`)).toEqual(['dead:b'])
  })

  it('should not suspect anyone on its own while detection is off, and detect from a fresh start after rebase', () => {
    const t = table()
    t.adopt([{ health: 'alive', state: state('a') }], 0)
    // Silence long after the last digest: no verdict of its own while observing.
    for (let ms = 100; ms <= 60_000; ms += 100) expect(t.tick(ms, false)).toEqual([])
    expect(health(t, 'a')).toBe('alive')
    // Back to full mode: detection starts from now, not from the last digest (which would be suspect at once).
    t.rebase(60_000)
    expect(t.tick(60_100)).toEqual([])
    const kinds: string[] = []
    for (let ms = 60_200; ms <= 65_000; ms += 100) kinds.push(...t.tick(ms).map((e) => e.kind))
    expect(kinds).toEqual(['suspect', 'dead'])
  })

  it('should keep the member bound across digests: members never heard of beyond it are skipped', () => {
    const t = table()
    const max = MembershipConstants.MAX_MEMBERS
    // Two digests of distinct members, each within a digest's own bound, would hold 2 × max without it.
    t.adopt(ids('a', max).map((id) => ({ health: 'alive' as const, state: state(id) })), 0)
    t.adopt(ids('b', max).map((id) => ({ health: 'alive' as const, state: state(id) })), 1000)
    expect(t.size).toBeLessThanOrEqual(max)
    expect(health(t, 'b0')).toBeUndefined()
  })

  it('should still forget dead members after retention while detection is off', () => {
    const t = table()
    t.adopt([{ health: 'alive', state: state('a') }], 0)
    t.adopt([{ health: 'dead', state: state('a') }], 1000)
    expect(t.tick(1000 + 59_999, false)).toEqual([])
    expect(t.tick(1000 + 60_000, false).map((e) => e.kind)).toEqual(['removed'])
  })
})
