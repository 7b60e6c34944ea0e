/**
 * Tiered failure detection, pure parts (core/tier.ts, MemberTable.adopt): the tier a configuration gives a node,
 * when an observer must listen again, which digests are trusted, and how a digest becomes an observer's view.
 */
import { describe, expect, it } from 'vitest'
import { MemberTable, MembershipConstants, judgeDigest, judgeHeartbeat, observerMustListen, digestDue, parseDigest, tierOf, digestRecord, fullEntry, compactDigest, sameViewState, fullDigestDue } from '../../src/membership/core/index.js'
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

  it('should be full at or below the threshold and before consensus runs', () => {
    expect(tierOf(big, 'v0', 8)).toBe('full')
    expect(tierOf(big, 'l0', 8)).toBe('full')
    expect(tierOf(undefined, 'v0', 1)).toBe('full')
  })

  it('should make a node its configuration does not list a joiner, at any size', () => {
    // A quiet joiner (core/joiner.ts): it takes the leader's digest in a small cluster as in a large one.
    expect(tierOf(big, 'joiner', 1)).toBe('joiner')
    expect(tierOf(big, 'joiner', 100)).toBe('joiner')
    expect(tierOf(conf([], []), 'joiner', 16)).toBe('joiner')
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

describe('digestDue', () => {
  it('should publish a period after the last digest, and at once after a verdict', () => {
    expect(digestDue({ nowMs: 1999, lastPublishedMs: 1000, intervalMs: 1000, verdictSince: false })).toBe(false)
    expect(digestDue({ nowMs: 2000, lastPublishedMs: 1000, intervalMs: 1000, verdictSince: false })).toBe(true)
    expect(digestDue({ nowMs: 1100, lastPublishedMs: 1000, intervalMs: 1000, verdictSince: true })).toBe(true)
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
    clusterId: 'c1', from: 'v0', generation: 3, seq: 7, members: [fullEntry('alive', state('v0')), fullEntry('dead', state('l1'))], ...extra
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
    expect(judge(digestRecord(digest({ members: [fullEntry('alive', state('x', { clusterId: 'c2' }))] })))).toMatchObject({ reason: 'digest-malformed' })
    expect(judge({ ...digestRecord(digest()), members: [{ ...fullEntry('alive', state('x')), health: 'zombie' }] })).toMatchObject({ reason: 'digest-malformed', reject: true })
    expect(judge({ ...digestRecord(digest()), members: [fullEntry('alive', state('x')), fullEntry('dead', state('x'))] })).toMatchObject({ reason: 'digest-malformed' })
    expect(judge({ ...digestRecord(digest()), seq: -1 })).toMatchObject({ reason: 'digest-malformed' })
    expect(judge(digestRecord(digest()), 'v0', { generation: 3, seq: 7 })).toEqual({ ok: false, reason: 'digest-replay', reject: false })
    expect(judge(digestRecord(digest()), 'v0', { generation: 4, seq: 1 })).toMatchObject({ reason: 'digest-replay' })
    expect(judge(digestRecord(digest()), 'v0', { generation: 3, seq: 6 }).ok).toBe(true)
  })

  it('should bound the member count', () => {
    const members = Array.from({ length: 1025 }, (_, i) => fullEntry('alive', state(`m${i}`)))
    expect(parseDigest({ ...digestRecord(digest()), members })).toBeNull()
  })
})

describe('MemberTable.adopt (digest → view)', () => {
  const table = (): MemberTable => new MemberTable({ self: state('self') })
  const health = (t: MemberTable, id: string): string | undefined => t.view(0).members.find((m) => m.nodeId === id)?.health

  it('should take members and their health from the digest, skipping itself and unknown dead members', () => {
    const t = table()
    const events = t.adopt([fullEntry('alive', state('a')), fullEntry('suspect', state('b')), fullEntry('dead', state('c')), fullEntry('alive', state('self'))], 1000)
    expect(events.map((e) => `${e.kind}:${e.nodeId}`)).toEqual(['joined:a', 'joined:b'])
    expect(t.view(1000).members.map((m) => `${m.nodeId}:${m.health}`)).toEqual(['a:alive', 'b:suspect', 'self:alive'])
  })

  it('should follow the voters\' verdicts, never roll back to an older state, and mark unlisted live members dead', () => {
    const t = table()
    t.adopt([fullEntry('alive', state('a', { seq: 5 })), fullEntry('alive', state('b'))], 1000)
    expect(t.adopt([fullEntry('dead', state('a', { seq: 5 })), fullEntry('alive', state('b', { seq: 2 }))], 2000).map((e) => e.kind)).toEqual(['dead'])
    expect(health(t, 'a')).toBe('dead')
    // An older state of `a` (a replay through another voter) is skipped.
    expect(t.adopt([fullEntry('alive', state('a', { seq: 4 })), fullEntry('alive', state('b', { seq: 3 }))], 3000)).toEqual([])
    expect(health(t, 'a')).toBe('dead')
    // A restart (newer generation) recovers it.
    expect(t.adopt([fullEntry('alive', state('a', { generation: 2, seq: 1 })), fullEntry('alive', state('b', { seq: 4 }))], 4000).map((e) => e.kind)).toEqual(['recovered'])
    // `b` is no longer listed: dead.
    expect(t.adopt([fullEntry('alive', state('a', { generation: 2, seq: 2 }))], 5000).map((e) => `${e.kind}:${e.nodeId}`)).toEqual(['dead:b'])
  })

  it('should report a restart the voters saw while the member stayed alive: `recovered` in the new generation, from checked word only', () => {
    // The leader heard a restart quicker than its detection (MemberTable.heartbeat): its digest lists the member
    // alive throughout, in a newer generation. The policy records flaps on every node, so a node promoted later
    // decides with the same history (policy/engine.ts): an observer must tell the restart too.
    const t = table()
    t.adopt([fullEntry('alive', state('a', { generation: 3, seq: 10 }))], 1000, 'leader')
    expect(t.adopt([{ nodeId: 'a', health: 'alive', generation: 3, seq: 11 }], 2000, 'leader')).toEqual([])
    expect(t.adopt([fullEntry('alive', state('a', { generation: 4, seq: 1 }))], 3000, 'leader')).toEqual([{ kind: 'recovered', nodeId: 'a', atMs: 3000, generation: 4 }])
    expect(t.adopt([{ nodeId: 'a', health: 'alive', generation: 4, seq: 2 }], 4000, 'leader')).toEqual([])
    // A joiner's digest is unchecked word: a liar's newer generation of a member heard in person is no restart.
    const j = table()
    j.heartbeat(state('b', { generation: 3, seq: 10 }), 1000)
    expect(j.adopt([fullEntry('alive', state('b', { generation: 9, seq: 1 }))], 2000, 'liar', false)).toEqual([])
  })

  it('should let an unchecked digest (a joiner\'s) outrank neither the member\'s own heartbeat nor a checked digest', () => {
    const max = Number.MAX_SAFE_INTEGER
    const generation = (t: MemberTable, id: string): number | undefined => t.view(0).members.find((m) => m.nodeId === id)?.state.generation
    // Known from an unchecked digest only: no checked word to judge its heartbeats by; the view shows the digest.
    const t = table()
    t.adopt([fullEntry('alive', state('a', { generation: 3, seq: 10 }))], 1000, 'leader', false)
    expect(t.lastSeen('a')).toBeUndefined()
    expect(t.has('a')).toBe(true)
    // A liar lists it at the largest generation: the view follows (ordered among unchecked digests), the
    // replay check does not; the leader's unchecked digest of the real generation is older than the view.
    t.adopt([fullEntry('alive', state('a', { generation: max, seq: 1 }))], 2000, 'liar', false)
    t.adopt([fullEntry('alive', state('a', { generation: 3, seq: 11 }))], 3000, 'leader', false)
    expect(generation(t, 'a')).toBe(max)
    expect(t.lastSeen('a')).toBeUndefined()
    // Its own heartbeat replaces the liar's state and is the replay check's from then on.
    t.heartbeat(state('a', { generation: 3, seq: 12 }), 4000)
    expect(generation(t, 'a')).toBe(3)
    expect(t.lastSeen('a')).toEqual({ generation: 3, seq: 12 })
    // Heard, then lied about again: the view moves, the heartbeat's word stays.
    t.adopt([fullEntry('alive', state('a', { generation: max, seq: 2 }))], 5000, 'liar', false)
    expect(t.lastSeen('a')).toEqual({ generation: 3, seq: 12 })

    // A checked digest (an observer's, from a voter) is ordered against checked word too: its full entry
    // replaces the liar's state, a compact one waits for a full one (the rest of the state is the liar's).
    const o = table()
    o.adopt([fullEntry('alive', state('a', { generation: 3, seq: 10 }))], 1000, 'leader', false)
    o.adopt([fullEntry('alive', state('a', { generation: max, seq: 1, addresses: ['/ip4/10.6.6.6/tcp/1'] }))], 2000, 'liar', false)
    o.adopt([{ nodeId: 'a', health: 'alive', generation: 3, seq: 11 }], 3000, 'leader')
    expect(generation(o, 'a')).toBe(max)
    o.adopt([fullEntry('alive', state('a', { generation: 3, seq: 12 }))], 4000, 'leader')
    expect(generation(o, 'a')).toBe(3)
    expect(o.view(0).members.find((m) => m.nodeId === 'a')?.state.addresses).toEqual(['/ip4/127.0.0.1/tcp/1'])
    expect(o.lastSeen('a')).toEqual({ generation: 3, seq: 12 })
    // The voter's verdict follows, and older checked word is skipped as before.
    expect(o.adopt([{ nodeId: 'a', health: 'dead', generation: 3, seq: 12 }], 5000, 'leader').map((e) => e.kind)).toEqual(['dead'])
    expect(o.adopt([fullEntry('alive', state('a', { generation: 3, seq: 11 }))], 6000, 'leader')).toEqual([])
  })

  it('should turn an unlisted member dead at once for the voter that listed it, and after a grace for another one', () => {
    const grace = MembershipConstants.DIGEST_UNLISTED_GRACE_MS
    const kinds = (events: Array<{ kind: string, nodeId: string }>): string[] => events.map((e) => `${e.kind}:${e.nodeId}`)
    // The leader that listed `b` drops it: it removed `b` after its death.
    const t = table()
    t.adopt([fullEntry('alive', state('a')), fullEntry('alive', state('b'))], 0, 'l1')
    expect(kinds(t.adopt([fullEntry('alive', state('a', { seq: 2 }))], 1000, 'l1'))).toEqual(['dead:b'])
    // A new leader that never heard of `b` (elected while it was joining): `b` stays alive for the grace…
    const u = table()
    u.adopt([fullEntry('alive', state('a')), fullEntry('alive', state('b'))], 0, 'l1')
    expect(kinds(u.adopt([fullEntry('alive', state('a', { seq: 2 }))], 1000, 'l2'))).toEqual([])
    expect(kinds(u.adopt([fullEntry('alive', state('a', { seq: 3 }))], 1000 + grace - 1, 'l2'))).toEqual([])
    expect(health(u, 'b')).toBe('alive')
    // …and is dead once no digest has listed it for the whole grace.
    expect(kinds(u.adopt([fullEntry('alive', state('a', { seq: 4 }))], 1000 + grace, 'l2'))).toEqual(['dead:b'])
    // Listed again by the new leader within the grace: the wait starts over the next time it goes unlisted.
    const v = table()
    v.adopt([fullEntry('alive', state('a')), fullEntry('alive', state('b'))], 0, 'l1')
    v.adopt([fullEntry('alive', state('a', { seq: 2 }))], 1000, 'l2')
    v.adopt([fullEntry('alive', state('a', { seq: 3 })), fullEntry('alive', state('b', { seq: 2 }))], 2000, 'l2')
    // Now l2 listed it: l2 dropping it is a verdict.
    expect(kinds(v.adopt([fullEntry('alive', state('a', { seq: 4 }))], 3000, 'l2'))).toEqual(['dead:b'])
    // Listed again by the old sender: a later omission by the new one waits a whole grace from then.
    const w = table()
    w.adopt([fullEntry('alive', state('a')), fullEntry('alive', state('b'))], 0, 'l1')
    w.adopt([fullEntry('alive', state('a', { seq: 2 }))], 1000, 'l2')
    w.adopt([fullEntry('alive', state('a', { seq: 3 })), fullEntry('alive', state('b', { seq: 2 }))], 2000, 'l1')
    expect(kinds(w.adopt([fullEntry('alive', state('a', { seq: 4 }))], 1000 + grace, 'l2'))).toEqual([])
  })

  it('should not suspect anyone on its own while detection is off, and detect from a fresh start after rebase', () => {
    const t = table()
    t.adopt([fullEntry('alive', state('a'))], 0)
    // Silence long after the last digest: no verdict of its own while observing.
    for (let ms = 100; ms <= 60_000; ms += 100) expect(t.tick(ms, false)).toEqual([])
    expect(health(t, 'a')).toBe('alive')
    // Back to full mode: detection starts from now, not from the last digest (which would be suspect at once).
    // `a` votes (heartbeats at the base period) and is connected: judged from the rebase on.
    const base = MembershipConstants.HEARTBEAT_INTERVAL_MS_DEFAULT
    t.setHeartbeatIntervals(base, base, new Set(['a']))
    t.rebase(60_000, new Set(['a']))
    expect(t.tick(60_100)).toEqual([])
    const kinds: string[] = []
    for (let ms = 60_200; ms <= 65_000; ms += 100) kinds.push(...t.tick(ms).map((e) => e.kind))
    expect(kinds).toEqual(['suspect', 'dead'])
  })

  /** Ticks every 100 ms from `fromMs` to `toMs`; `at` runs before each tick. Returns each event as `kind@ms`. */
  const run = (t: MemberTable, fromMs: number, toMs: number, at: (ms: number) => void = () => {}): string[] => {
    const events: string[] = []
    for (let ms = fromMs; ms <= toMs; ms += 100) {
      at(ms)
      events.push(...t.tick(ms).map((e) => `${e.kind}@${ms}`))
    }
    return events
  }
  /** An observer's table holding `a`, 60 s after its last digest; `a` is a voter when `aVotes`. */
  const observed = (aVotes = true): MemberTable => {
    const t = table()
    t.adopt([fullEntry('alive', state('a'))], 0)
    for (let ms = 100; ms <= 60_000; ms += 100) t.tick(ms, false)
    const base = MembershipConstants.HEARTBEAT_INTERVAL_MS_DEFAULT
    t.setHeartbeatIntervals(base, base, new Set(aVotes ? ['a'] : []))
    return t
  }

  it('should await a member that does not vote until its first heartbeat, connected or not, then judge it as any', () => {
    const grace = MembershipConstants.LISTEN_CONNECT_GRACE_MS
    // Connected at the rebase, its first heartbeat 6 s later (it had to learn the new subscription, on a starved
    // machine): not judged meanwhile, and judged normally from then on.
    const t = observed(false)
    t.rebase(60_000, new Set(['a']))
    expect(run(t, 60_100, 66_000)).toEqual([])
    t.heartbeat(state('a', { seq: 2 }), 66_000)
    const afterHeard = run(t, 66_100, 72_000)
    expect(afterHeard.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    expect(Number(afterHeard[0]?.split('@')[1])).toBeLessThan(71_000)
    // A connection that opens does not end the wait (only a heartbeat does); never heard: judged at the grace's end.
    const u = observed(false)
    u.rebase(60_000, new Set())
    u.connectionOpened('a', 61_000)
    const never = run(u, 60_100, 60_000 + grace + 2000)
    expect(never.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    expect(Number(never[0]?.split('@')[1])).toBe(60_000 + grace)
  })

  it('should await a member the last digest called suspect as it awaits a live one: not dead at the rebase', () => {
    // The leader's last digest listed `a` suspect (a late heartbeat on a loaded machine); this observer then starts
    // listening (promoted to voter, or its digests went stale). Its suspicion dated from the digest, and the first
    // tick after the rebase turned `a` dead before this node could hear it at all; as a new voter, soon a leader,
    // its policy then replaces the roles of a live member.
    const grace = MembershipConstants.LISTEN_CONNECT_GRACE_MS
    const suspected = (): MemberTable => {
      const t = observed(false)
      expect(t.adopt([fullEntry('suspect', state('a', { seq: 2 }))], 30_000).map((e) => e.kind)).toEqual(['suspect'])
      t.rebase(60_000, new Set())
      return t
    }
    const t = suspected()
    expect(run(t, 60_100, 66_000)).toEqual([])
    expect(t.heartbeat(state('a', { seq: 3 }), 66_000).map((e) => e.kind)).toEqual(['recovered'])
    // Never heard: dead once the wait is over, as a live member awaited would be judged then.
    const u = suspected()
    const never = run(u, 60_100, 60_000 + grace + 2000)
    expect(never).toEqual([`dead@${60_000 + grace}`])
    // A voter is judged from the connection that opens: its suspicion too, not from the rebase.
    const v = observed(true)
    v.adopt([fullEntry('suspect', state('a', { seq: 2 }))], 30_000)
    v.rebase(60_000, new Set())
    expect(run(v, 60_100, 63_000, (ms) => { if (ms === 63_000) v.connectionOpened('a', ms) })).toEqual([])
    expect(run(v, 63_100, 63_400)).toEqual([])
    expect(v.heartbeat(state('a', { seq: 3 }), 63_450).map((e) => e.kind)).toEqual(['recovered'])
    // A voter connected at the rebase is judged from it at once (no wait): its suspicion restarts from the rebase.
    const w = observed(true)
    w.adopt([fullEntry('suspect', state('a', { seq: 2 }))], 30_000)
    w.rebase(60_000, new Set(['a']))
    expect(run(w, 60_100, 60_400)).toEqual([])
    expect(w.heartbeat(state('a', { seq: 3 }), 60_450).map((e) => e.kind)).toEqual(['recovered'])
  })

  it('should judge a voter it had no connection to from the moment one opens, not from the rebase', () => {
    // A new voter starts listening while connected only to some members; a dials `a` and connects 6 s later.
    const t = observed()
    t.rebase(60_000, new Set())
    expect(run(t, 60_100, 66_000)).toEqual([])
    t.connectionOpened('a', 66_000)
    // Its heartbeats arrive every 1.5 s from then on: never suspect.
    expect(run(t, 66_100, 80_000, (ms) => { if (ms % 1500 === 0) t.heartbeat(state('a', { seq: ms }), ms) })).toEqual([])
    // Silent from the connection on: judged as of the connection, as a fresh start would be.
    const u = observed()
    u.rebase(60_000, new Set())
    u.connectionOpened('a', 66_000)
    const fromConnection = run(u, 66_100, 71_000)
    expect(fromConnection.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    const connectedThen = observed()
    connectedThen.rebase(66_000, new Set(['a']))
    expect(fromConnection).toEqual(run(connectedThen, 66_100, 71_000))
  })

  it('should judge a member it never reaches once the grace has passed, and at once when its dial is refused', () => {
    const grace = MembershipConstants.LISTEN_CONNECT_GRACE_MS
    const t = observed()
    t.rebase(60_000, new Set())
    const events = run(t, 60_100, 60_000 + grace + 2000)
    expect(events.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    expect(Number(events[0]?.split('@')[1])).toBe(60_000 + grace)
    // Refused on every address (nothing listens there): no wait for the grace.
    const u = observed()
    u.rebase(60_000, new Set())
    const refused = run(u, 60_100, 63_000, (ms) => { if (ms === 60_500) u.dialRefused('a') })
    expect(refused.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    expect(Number(refused[0]?.split('@')[1])).toBeLessThan(61_000)
  })

  it('should keep awaiting a member the leader\'s digests vouch for, from the last one that moved, never past the cap', () => {
    const grace = MembershipConstants.LISTEN_CONNECT_GRACE_MS
    const cap = MembershipConstants.VOUCHED_AWAIT_MAX_MS
    const digest = (seq: number, health: 'alive' | 'dead' = 'alive'): Array<ReturnType<typeof fullEntry>> => [{ nodeId: 'a', health, generation: 1, seq }]
    // Not heard by this node, but the leader's digest lists it alive with a newer seq every second until 75 s:
    // still awaited 10 s after the rebase, judged a grace after the last digest that moved.
    const t = observed(false)
    t.rebase(60_000, new Set(['a']))
    expect(t.awaitingAny(60_000)).toBe(true)
    let renewed = 0
    const vouched = run(t, 60_100, 90_000, (ms) => { if (ms % 1000 === 0 && ms <= 75_000) renewed += t.vouch(digest(ms / 1000), ms).renewed })
    expect(renewed).toBe(15)
    expect(vouched.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    expect(Number(vouched[0]?.split('@')[1])).toBe(75_000 + grace)
    expect(t.awaitingAny(90_000)).toBe(false)
    // A digest that repeats what this node holds (seq 1, adopted as an observer) is no news: judged at the grace's end.
    const u = observed(false)
    u.rebase(60_000, new Set(['a']))
    const stale = run(u, 60_100, 60_000 + grace + 2000, (ms) => { if (ms % 1000 === 0) u.vouch(digest(1), ms) })
    expect(Number(stale[0]?.split('@')[1])).toBe(60_000 + grace)
    // Nor does the leader calling it dead vouch for it.
    const d = observed(false)
    d.rebase(60_000, new Set(['a']))
    const called = run(d, 60_100, 60_000 + grace + 2000, (ms) => { if (ms % 1000 === 0) d.vouch(digest(ms, 'dead'), ms) })
    expect(Number(called[0]?.split('@')[1])).toBe(60_000 + grace)
    // Digests that vouch for ever: judged on its own silence once the cap has passed since the rebase.
    const w = observed(false)
    w.rebase(60_000, new Set(['a']))
    const capped = run(w, 60_100, 60_000 + cap + 2000, (ms) => { if (ms % 1000 === 0) w.vouch(digest(ms), ms) })
    expect(capped.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    expect(Number(capped[0]?.split('@')[1])).toBe(60_000 + cap)
    // A member heard since the rebase is judged by its heartbeats: a digest vouching for it changes nothing.
    const h = observed(false)
    h.rebase(60_000, new Set(['a']))
    h.heartbeat(state('a', { seq: 2 }), 61_000)
    const heard = run(h, 61_100, 67_000, (ms) => { if (ms % 1000 === 0) h.vouch(digest(ms), ms) })
    expect(heard.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    expect(Number(heard[0]?.split('@')[1])).toBeLessThan(66_000)
  })

  it('should add a live member it never heard of from a leader\'s digest, awaited as after a rebase', () => {
    const grace = MembershipConstants.LISTEN_CONNECT_GRACE_MS
    const cap = MembershipConstants.VOUCHED_AWAIT_MAX_MS
    const t = observed(false)
    t.rebase(60_000, new Set(['a']))
    // Admitted as this node was promoted: `b` is in the leader's digest in full, not heard here yet. A compact
    // entry, a dead one and this node's own entry add nothing.
    const { events } = t.vouch([fullEntry('alive', state('b', { seq: 4 })), { nodeId: 'c', health: 'alive', generation: 1, seq: 9 }, fullEntry('dead', state('d')), fullEntry('alive', state('self'))], 61_000)
    expect(events.map((e) => `${e.kind}:${e.nodeId}`)).toEqual(['joined:b'])
    expect(health(t, 'b')).toBe('alive')
    expect(t.view(61_000).members.map((m) => m.nodeId)).toEqual(['a', 'b', 'self'])
    // The digest's word is no checked word: it does not order b's own heartbeats (the test below).
    expect(t.lastSeen('b')).toBeUndefined()
    // Not judged for the grace from then; vouched for, awaited up to the cap from its addition; then judged.
    const b = (ms: number): string[] => t.tick(ms).filter((e) => e.nodeId === 'b').map((e) => `${e.kind}@${ms}`)
    const events2: string[] = []
    for (let ms = 61_100; ms <= 61_000 + cap + 2000; ms += 100) {
      if (ms % 1000 === 0) t.vouch([{ nodeId: 'b', health: 'alive', generation: 1, seq: ms }], ms)
      events2.push(...b(ms))
    }
    expect(events2.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    expect(Number(events2[0]?.split('@')[1])).toBe(61_000 + cap)
    // Heard after its addition: judged by its heartbeats from then on.
    const u = observed(false)
    u.rebase(60_000, new Set(['a']))
    u.vouch([fullEntry('alive', state('b', { seq: 4 }))], 61_000)
    u.heartbeat(state('b', { seq: 5 }), 62_000)
    const heard: string[] = []
    for (let ms = 62_100; ms <= 61_000 + grace; ms += 100) heard.push(...u.tick(ms).filter((e) => e.nodeId === 'b').map((e) => `${e.kind}@${ms}`))
    expect(heard.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    expect(Number(heard[0]?.split('@')[1])).toBeLessThan(67_000)
  })

  it('should not let a digest that adds a member order that member\'s own heartbeats', () => {
    // Goal: a voter of the configuration (a key holder) whose digest lists a member this new voter has not heard yet,
    // in full at generation 2^53 − 1, cannot make the member's own heartbeats stale here: the vouch is evidence of
    // life, not the member's word. Before, the member was tracked at that generation on checked word; every real
    // heartbeat of it was dropped (`stale-generation`), and once the wait ended it was declared dead while alive.
    const t = observed(false)
    t.rebase(60_000, new Set(['a']))
    const lie = Number.MAX_SAFE_INTEGER
    const { events } = t.vouch([fullEntry('alive', state('b', { generation: lie, seq: lie }))], 61_000)
    expect(events.map((e) => `${e.kind}:${e.nodeId}`)).toEqual(['joined:b'])
    const heard: string[] = []
    for (let ms = 61_100, seq = 1; ms <= 61_000 + MembershipConstants.VOUCHED_AWAIT_MAX_MS + 5000; ms += 100) {
      if (ms % 500 === 0) {
        const verdict = judgeHeartbeat({ decoded: state('b', { seq: seq++ }), sender: 'b', self: 'self', clusterId: 'c1', lastSeen: t.lastSeen('b') })
        expect(verdict.ok ? 'accepted' : verdict.reason).toBe('accepted')
        if (verdict.ok) heard.push(...t.heartbeat(verdict.state, ms).map((e) => `${e.kind}@${ms}`))
      }
      heard.push(...t.tick(ms).filter((e) => e.nodeId === 'b').map((e) => `${e.kind}@${ms}`))
    }
    expect(heard).toEqual([])
    expect(health(t, 'b')).toBe('alive')
    expect(t.lastSeen('b')?.generation).toBe(1)
  })

  it('should judge an awaited member heard through a relay as any member it hears', () => {
    const t = observed()
    t.rebase(60_000, new Set())
    expect(run(t, 60_100, 61_000)).toEqual([])
    t.heartbeat(state('a', { seq: 5 }), 61_000)
    // Heard once, then silent: suspect within the usual time, long before the grace would end.
    const events = run(t, 61_100, 66_000)
    expect(events.map((e) => e.split('@')[0])).toEqual(['suspect', 'dead'])
    expect(Number(events[0]?.split('@')[1])).toBeLessThan(65_000)
  })

  it('should expect each member\'s own period after a rebase: a voter\'s base one, the scaled one of the others', () => {
    // A new voter at 50 members: the other voter `v` heartbeats every 500 ms, the observer `a` every 1.5 s —
    // and on a loaded machine its beats land 2.4 s apart.
    const base = MembershipConstants.HEARTBEAT_INTERVAL_MS_DEFAULT
    const scaled = base + MembershipConstants.ACCEPTABLE_PAUSE_MS_DEFAULT
    const t = table()
    t.adopt([fullEntry('alive', state('a')), fullEntry('alive', state('v'))], 0)
    for (let ms = 100; ms <= 60_000; ms += 100) t.tick(ms, false)
    t.setHeartbeatIntervals(scaled, base, new Set(['v']))
    t.rebase(60_000, new Set(['a', 'v']))
    const events = run(t, 60_100, 75_000, (ms) => { if ((ms - 60_000) % 2400 === 0) t.heartbeat(state('a', { seq: ms }), ms) })
    // The observer is never suspected (seeded with 500 ms it was, 2.2 s after the rebase)…
    expect(events.filter((e) => e.startsWith('suspect') || e.startsWith('dead')).length).toBe(2)
    expect(health(t, 'a')).toBe('alive')
    // …while the silent voter is found as fast as with the base period (seeded with 1.5 s it would be ≈ 2 s later).
    expect(health(t, 'v')).toBe('dead')
    expect(Number(events[0]?.split('@')[1])).toBeLessThan(60_000 + 2500)
  })

  it('should keep the member bound across digests: members never heard of beyond it are skipped', () => {
    const t = table()
    const max = MembershipConstants.MAX_MEMBERS
    // Two digests of distinct members, each within a digest's own bound, would hold 2 × max without it.
    t.adopt(ids('a', max).map((id) => fullEntry('alive', state(id))), 0)
    t.adopt(ids('b', max).map((id) => fullEntry('alive', state(id))), 1000)
    expect(t.size).toBeLessThanOrEqual(max)
    expect(health(t, 'b0')).toBeUndefined()
  })

  it('should still forget dead members after retention while detection is off', () => {
    const t = table()
    t.adopt([fullEntry('alive', state('a'))], 0)
    t.adopt([fullEntry('dead', state('a'))], 1000)
    expect(t.tick(1000 + 59_999, false)).toEqual([])
    expect(t.tick(1000 + 60_000, false).map((e) => e.kind)).toEqual(['removed'])
  })
})

describe('compact digests (full NodeState only when an observer may lack it)', () => {
  const compact = (health: 'alive' | 'suspect' | 'dead' | 'left', nodeId: string, generation: number, seq: number): LivenessDigest['members'][number] => ({ nodeId, health, generation, seq })
  const roundTrip = (members: LivenessDigest['members']): LivenessDigest | null =>
    parseDigest(decodeCanonical(encodeCanonical(digestRecord({ clusterId: 'c1', from: 'v0', generation: 1, seq: 1, members }))))

  it('should carry compact and full entries through canonical CBOR, and reject entries that disagree with their state', () => {
    const members = [compact('alive', 'a', 1, 9), fullEntry('suspect', state('b', { seq: 4 }))]
    expect(roundTrip(members)?.members).toEqual(members)
    expect(digestRecord({ clusterId: 'c1', from: 'v0', generation: 1, seq: 1, members }).members).toEqual([
      { nodeId: 'a', health: 'alive', generation: 1, seq: 9 }, { nodeId: 'b', health: 'suspect', generation: 1, seq: 4, state: state('b', { seq: 4 }) }])
    expect(roundTrip([{ ...fullEntry('alive', state('b')), nodeId: 'c' }])).toBeNull()
    expect(roundTrip([{ ...fullEntry('alive', state('b')), seq: 2 }])).toBeNull()
    expect(roundTrip([{ ...fullEntry('alive', state('b')), generation: 2 }])).toBeNull()
    expect(roundTrip([compact('alive', '', 1, 1)])).toBeNull()
    expect(roundTrip([compact('alive', 'a', 1, 1), compact('dead', 'a', 1, 2)])).toBeNull()
    const extra = { ...digestRecord({ clusterId: 'c1', from: 'v0', generation: 1, seq: 1, members: [] }), members: [{ nodeId: 'a', health: 'alive', generation: 1, seq: 1, labels: {} }] }
    expect(parseDigest(extra)).toBeNull()
  })

  it('should see a view change in anything but seq, uptime and a small drift of free storage', () => {
    expect(sameViewState(state('a'), state('a', { seq: 99, uptimeMs: 12345 }))).toBe(true)
    expect(sameViewState(state('a'), state('a', { labels: { zone: 'b' } }))).toBe(false)
    expect(sameViewState(state('a'), state('a', { leaving: true }))).toBe(false)
    expect(sameViewState(state('a'), state('a', { generation: 2 }))).toBe(false)
    expect(sameViewState(state('a'), state('a', { reach: 3 }))).toBe(false)
    expect(sameViewState(state('a'), state('a', { addresses: ['/ip4/127.0.0.1/tcp/2'] }))).toBe(false)
    expect(sameViewState(state('a'), state('a', { capacity: { cpuMillis: 1000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 } }))).toBe(false)
    // Free storage moves with every write on the disk: a drift within 1% is no change, more is.
    expect(sameViewState(state('a'), state('a', { capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10 - 5e7, pods: 110 } }))).toBe(true)
    expect(sameViewState(state('a'), state('a', { capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10 - 2e8, pods: 110 } }))).toBe(false)
    expect(sameViewState(state('a', { reach: 2 }), state('a', { reach: undefined }))).toBe(false)
  })

  it('should send a member\'s state in full first, on a change, and when asked; compact otherwise', () => {
    const kinds = (r: ReturnType<typeof compactDigest>): string[] => r.members.map((m) => `${m.nodeId}:${m.state === undefined ? 'compact' : 'full'}`)
    const first = compactDigest({ members: [{ health: 'alive', state: state('a') }, { health: 'alive', state: state('b') }], lastSent: new Map(), full: false })
    expect(kinds(first)).toEqual(['a:full', 'b:full'])
    const second = compactDigest({ members: [{ health: 'alive', state: state('a', { seq: 2, uptimeMs: 1001 }) }, { health: 'suspect', state: state('b', { seq: 2, labels: { zone: 'b' } }) }, { health: 'alive', state: state('c') }], lastSent: first.lastSent, full: false })
    expect(kinds(second)).toEqual(['a:compact', 'b:full', 'c:full'])
    expect(second.members[0]).toEqual({ nodeId: 'a', health: 'alive', generation: 1, seq: 2 })
    // `a` compact again: the reference stays the state last sent in full, so slow drift still shows as a change.
    expect(second.lastSent.get('a')).toEqual(state('a'))
    const third = compactDigest({ members: [{ health: 'alive', state: state('a', { seq: 3 }) }, { health: 'alive', state: state('c', { seq: 2 }) }], lastSent: second.lastSent, full: true })
    expect(kinds(third)).toEqual(['a:full', 'c:full'])
    expect([...third.lastSent.keys()]).toEqual(['a', 'c'])
  })

  it('should send every state in full in the first digest, every DIGEST_FULL_EVERY-th, and when a subscriber is new', () => {
    const every = MembershipConstants.DIGEST_FULL_EVERY
    expect(every).toBeGreaterThan(1)
    const known = new Set(['l0', 'l1'])
    const due = Array.from({ length: 2 * every + 1 }, (_, i) => fullDigestDue({ seq: i + 1, subscribers: ['l0', 'l1'], previous: known }))
    expect(due.flatMap((d, i) => d ? [i + 1] : [])).toEqual([1, every + 1, 2 * every + 1])
    expect(fullDigestDue({ seq: 5, subscribers: ['l0', 'l1', 'l2'], previous: known })).toBe(true)
    // One gone is no reason: the others hold every state already.
    expect(fullDigestDue({ seq: 5, subscribers: ['l0'], previous: known })).toBe(false)
  })

  it('should never invent a member or a state from a compact entry: it waits for the full one', () => {
    const t = new MemberTable({ self: state('self') })
    const view = (): string[] => t.view(0).members.map((m) => `${m.nodeId}:${m.health}:${m.state.generation}.${m.state.seq}`)
    // A compact entry for a member this table never held: skipped, no event, no member.
    expect(t.adopt([compact('alive', 'a', 1, 5)], 1000)).toEqual([])
    expect(view()).toEqual(['self:alive:1.1'])
    // The full entry comes: the member joins with the state sent.
    expect(t.adopt([fullEntry('alive', state('a', { seq: 6, labels: { zone: 'q' } }))], 2000).map((e) => `${e.kind}:${e.nodeId}`)).toEqual(['joined:a'])
    // Compact entries then move seq and health, and keep the rest of the state as last taken in full.
    expect(t.adopt([compact('suspect', 'a', 1, 7)], 3000).map((e) => e.kind)).toEqual(['suspect'])
    expect(view()).toEqual(['a:suspect:1.7', 'self:alive:1.1'])
    expect(t.view(0).members[0]?.state.labels).toEqual({ zone: 'q' })
    // An older compact entry is skipped (the table's monotonic rule).
    expect(t.adopt([compact('alive', 'a', 1, 6)], 3500)).toEqual([])
    expect(view()).toEqual(['a:suspect:1.7', 'self:alive:1.1'])
    // A compact entry of a newer generation (a restart whose full entry this node missed): skipped, and the member
    // is listed, so not turned dead either.
    expect(t.adopt([compact('alive', 'a', 2, 1)], 4000)).toEqual([])
    expect(view()).toEqual(['a:suspect:1.7', 'self:alive:1.1'])
    // The full entry of the same (generation, seq) as held replaces the state (it may have been built from compact entries).
    t.adopt([fullEntry('alive', state('a', { seq: 7, labels: { zone: 'r' } }))], 5000)
    expect(t.view(0).members[0]?.state.labels).toEqual({ zone: 'r' })
    // A compact entry for an unknown member next to a known one: only the known one moves; a live member
    // listed only in compact form is not turned dead.
    expect(t.adopt([compact('alive', 'a', 1, 8), compact('alive', 'ghost', 1, 1)], 6000)).toEqual([])
    expect(view()).toEqual(['a:alive:1.8', 'self:alive:1.1'])
  })

  it('should shrink the digest several times (bytes per digest at 25 and 50 members)', () => {
    // Realistic members: a 52-character peer id, two addresses with their /p2p suffix, zone and rack labels.
    const peer = (i: number): string => `12D3KooW${String(i).padStart(4, '0')}${'x'.repeat(40)}`
    const real = (i: number, seq: number): NodeState => state(peer(i), {
      addresses: [`/ip4/10.0.0.${i}/tcp/4101/p2p/${peer(i)}`, `/ip4/192.168.1.${i}/tcp/4101/p2p/${peer(i)}`],
      roles: ['control-plane', 'worker'], labels: { zone: `zone-${i % 3}`, rack: `rack-${i % 7}` }, uptimeMs: 3_600_000 + seq * 1000, seq, generation: 3, reach: 24
    })
    const sizes: Record<number, { full: number, compact: number }> = {}
    for (const n of [25, 50]) {
      const tracked = (seq: number): Array<{ health: 'alive', state: NodeState }> => Array.from({ length: n }, (_, i) => ({ health: 'alive', state: real(i, seq) }))
      const encode = (members: LivenessDigest['members']): number => encodeCanonical(digestRecord({ clusterId: 'c1', from: peer(0), generation: 3, seq: 1000, members })).length
      const first = compactDigest({ members: tracked(100), lastSent: new Map(), full: true })
      const next = compactDigest({ members: tracked(101), lastSent: first.lastSent, full: false })
      expect(next.members.every((m) => m.state === undefined)).toBe(true)
      sizes[n] = { full: encode(first.members), compact: encode(next.members) }
    }
    console.log('digest bytes (full/compact):', JSON.stringify(sizes))
    for (const n of [25, 50]) expect(sizes[n]!.compact * 5).toBeLessThan(sizes[n]!.full)
  })
})
