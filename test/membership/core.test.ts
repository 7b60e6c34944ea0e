import { describe, expect, it } from 'vitest'
import { MemberTable, PhiAccrualDetector, judgeHeartbeat, phi } from '../../src/membership/core/index.js'
import type { NodeState } from '../../src/membership/core/index.js'

const state = (nodeId: string, extra: Partial<NodeState> = {}): NodeState => ({
  nodeId, clusterId: 'c1', addresses: ['/ip4/127.0.0.1/tcp/1'], roles: ['worker'],
  capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 }, labels: { zone: 'a' },
  version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation: 1, seq: 1, leaving: false, ...extra
})

describe('phi', () => {
  it('should match hand-computed values of the logistic approximation', () => {
    // y = 0: e = 1, phi = -log10(1 - 1/2) = log10 2.
    expect(phi(500, 500, 100)).toBeCloseTo(0.30103, 4)
    // y = 1: e = exp(-1.668166) = 0.188612, phi = -log10(e / (1 + e)) = 0.79950 (normal tail 0.1587).
    expect(phi(600, 500, 100)).toBeCloseTo(0.7995, 3)
    // y = 3: e = exp(-6.698082) = 0.0012325, phi = 2.9098.
    expect(phi(800, 500, 100)).toBeCloseTo(2.9098, 3)
    // Well before the mean phi is near 0; it only grows with silence.
    expect(phi(100, 500, 100)).toBeLessThan(0.001)
    expect(phi(1200, 500, 100)).toBeGreaterThan(phi(1100, 500, 100))
  })

  it('should cross the threshold 8 only after mean + pause + about 5.2 standard deviations', () => {
    const detector = new PhiAccrualDetector({ windowSize: 100, minStdDeviationMs: 100, acceptablePauseMs: 1000, firstHeartbeatEstimateMs: 500 })
    for (let t = 0; t <= 10_000; t += 500) detector.heartbeat(t)
    // Regular 500 ms beats: deviation is the 100 ms floor, the effective mean 1500 ms.
    expect(detector.phi(10_000 + 1900)).toBeLessThan(8)
    expect(detector.phi(10_000 + 2100)).toBeGreaterThan(8)
  })
})

describe('MemberTable', () => {
  const table = (): MemberTable => new MemberTable({ self: state('self') })

  it('should go alive → suspect → dead → removed on silence and report each event once', () => {
    const t = table()
    expect(t.heartbeat(state('a'), 0).map((e) => e.kind)).toEqual(['joined'])
    for (let ms = 500; ms <= 5000; ms += 500) t.heartbeat(state('a', { seq: ms }), ms)
    expect(t.tick(6000)).toEqual([])
    const kinds: string[] = []
    for (let ms = 6000; ms <= 80_000; ms += 100) kinds.push(...t.tick(ms).map((e) => e.kind))
    expect(kinds).toEqual(['suspect', 'dead', 'removed'])
    expect(t.size).toBe(0)
  })

  it('should bring a suspect back as recovered on its next heartbeat and treat a leave as left, not dead', () => {
    const t = table()
    for (let ms = 0; ms <= 5000; ms += 500) t.heartbeat(state('a', { seq: ms + 1 }), ms)
    let kinds: string[] = []
    for (let ms = 5000; ms <= 7200; ms += 100) kinds.push(...t.tick(ms).map((e) => e.kind))
    expect(kinds).toContain('suspect')
    expect(t.heartbeat(state('a', { seq: 9999 }), 7300).map((e) => e.kind)).toEqual(['recovered'])
    expect(t.heartbeat(state('a', { seq: 10_000, leaving: true }), 7400).map((e) => e.kind)).toEqual(['left'])
    kinds = []
    for (let ms = 7400; ms <= 20_000; ms += 100) kinds.push(...t.tick(ms).map((e) => e.kind))
    expect(kinds).not.toContain('dead')
    expect(t.view(20_000).members.find((m) => m.nodeId === 'a')?.health).toBe('left')
  })

  it('should not learn a dead member\'s silence as an interval: back in the same generation, a crash is found as fast as before', () => {
    // a beats every 500 ms for 10 s, falls silent for 10 s (a partition, a frozen process: dead), comes back in
    // the same generation and beats for 10 s more, then crashes. b beats throughout, then crashes with a.
    const t = table()
    const events: string[] = []
    for (let ms = 0; ms <= 30_000; ms += 100) {
      if (ms % 500 === 0) {
        if (ms <= 10_000 || ms >= 20_000) events.push(...t.heartbeat(state('a', { seq: ms + 1 }), ms).map((e) => `${e.kind} a`))
        t.heartbeat(state('b', { seq: ms + 1 }), ms)
        // c announces a leave at 10 s, yet its process goes on and beats again from 20 s.
        if (ms <= 10_000 || ms >= 20_000) events.push(...t.heartbeat(state('c', { seq: ms + 1, leaving: ms === 10_000 }), ms).map((e) => `${e.kind} c`))
      }
      events.push(...t.tick(ms).map((e) => `${e.kind} ${e.nodeId}`))
    }
    expect(events).toEqual(['joined a', 'joined c', 'left c', 'suspect a', 'dead a', 'recovered a', 'recovered c'])
    const suspectedAt = (id: string): number => {
      for (let ms = 30_100; ms <= 60_000; ms += 100) if (t.tick(ms).some((e) => e.kind === 'suspect' && e.nodeId === id)) return ms
      return Infinity
    }
    const aAt = suspectedAt('a')
    expect(aAt - 30_000).toBeLessThan(2500)
    // Learnt, that silence made a's spread ≈ 1.4 s and its suspicion ≈ 9 s late; now a is judged as b is.
    expect(t.view(aAt).members.find((m) => m.nodeId === 'b')?.health).toBe('suspect')
    // The 10 s silence is no interval a sends at: its detector's window holds only its beats.
    expect(t.detectorOf('a')).toMatchObject({ meanMs: 500, stdDeviationMs: 100 })
    expect(t.detectorOf('c')).toMatchObject({ meanMs: 500, stdDeviationMs: 100 })
  })

  it('should report a restart quicker than its detection: a live member heard in a newer generation is `recovered` in it', () => {
    // a crashes and its supervisor starts it again within a second: its next heartbeat, in generation 2, comes
    // before phi suspects the silence. The policy counts a restart as a flap only from a `joined` or `recovered`
    // event with a higher generation (policy/engine.ts onMembership): without an event the restart went unseen,
    // and a node crash-looping faster than detection stayed a steady, long-alive candidate for every role.
    const t = table()
    for (let ms = 0; ms <= 5000; ms += 500) t.heartbeat(state('a', { seq: ms + 1 }), ms)
    t.connectionClosed('a')
    expect(t.tick(5500)).toEqual([])
    expect(t.heartbeat(state('a', { generation: 2, seq: 1 }), 5600)).toEqual([{ kind: 'recovered', nodeId: 'a', atMs: 5600, generation: 2 }])
    expect(t.view(5600).members.find((m) => m.nodeId === 'a')?.health).toBe('alive')
    // Its later beats in that generation are no news; nor is a suspicion that clears a restart twice.
    expect(t.heartbeat(state('a', { generation: 2, seq: 2 }), 6100)).toEqual([])
    // A state only an unchecked digest (a joiner's) gave is no restart to correct: its own word is not news.
    const j = table()
    j.adopt([{ nodeId: 'b', health: 'alive', generation: 9, seq: 1, state: state('b', { generation: 9 }) }], 0, 'liar', false)
    expect(j.heartbeat(state('b', { generation: 3, seq: 5 }), 100)).toEqual([])
  })

  it('should tell what a member\'s detector holds (window mean and spread, last heartbeat, hint) for the suspicion\'s log line', () => {
    const t = table()
    expect(t.detectorOf('a')).toBeUndefined()
    for (let ms = 0; ms <= 5000; ms += 500) t.heartbeat(state('a', { seq: ms + 1 }), ms)
    t.connectionClosed('a')
    // Two seeded intervals (375, 625) and ten of 500: mean 500, spread under the 100 ms floor.
    expect(t.detectorOf('a')).toEqual({ meanMs: 500, stdDeviationMs: 100, lastHeartbeatMs: 5000, hinted: true, unreachable: true })
  })

  it('should suspect sooner after a connection-close hint, but never on the hint alone', () => {
    const hinted = table(); const plain = table()
    for (const t of [hinted, plain]) for (let ms = 0; ms <= 5000; ms += 500) t.heartbeat(state('a', { seq: ms + 1 }), ms)
    hinted.connectionClosed('a')
    expect(hinted.tick(5100)).toEqual([])
    const firstSuspect = (t: MemberTable): number => { for (let ms = 5100; ms < 20_000; ms += 50) if (t.tick(ms).some((e) => e.kind === 'suspect')) return ms; return Infinity }
    expect(firstSuspect(hinted)).toBeLessThan(firstSuspect(plain))
  })

  it('should not count its own stall as members\' silence, yet still find a member that really stopped', () => {
    const t = table()
    // Both members beat every 500 ms and the observer ticks every 100 ms, until the observer stalls 3 s.
    for (let ms = 0; ms <= 5000; ms += 100) {
      if (ms % 500 === 0) { t.heartbeat(state('a', { seq: ms + 1 }), ms); t.heartbeat(state('b', { seq: ms + 1 }), ms) }
      expect(t.tick(ms)).toEqual([])
    }
    // After the stall the timer runs first (its tick sees 3 s of silence), then the queued heartbeats; only
    // a's arrive: b stopped during the stall.
    expect(t.tick(8000)).toEqual([])
    expect(t.excusedStallMs).toBe(2900)
    t.heartbeat(state('a', { seq: 9000 }), 8000)
    const events: string[] = []
    for (let ms = 8100; ms <= 20_000; ms += 100) {
      if (ms % 500 === 0) t.heartbeat(state('a', { seq: ms + 1 }), ms)
      events.push(...t.tick(ms).map((e) => `${e.kind} ${e.nodeId} ${e.atMs}`))
    }
    // b: silent since 5000; 2900 ms of that were the observer's stall, so it turns suspect ≈ 2.9 s later than
    // it would have without the stall (≈ 7 s), never at the stall itself.
    expect(events.filter((e) => e.startsWith('suspect'))).toEqual([expect.stringMatching(/^suspect b (9|10)\d{3}$/)])
    expect(events.some((e) => e.startsWith('dead b'))).toBe(true)
    expect(events.some((e) => e.endsWith(' a') || e.includes(' a '))).toBe(false)
  })

  it('should not learn its own stall as an interval when the queued heartbeats are read before its late tick', () => {
    // The observer stalls 3 s three times (a long GC, a starved CPU). A stall inside a poll callback is followed by
    // the rest of that poll phase, which reads the heartbeats queued meanwhile before the late tick runs: each
    // arrived 3 s after the one before by this node's clock. Sampled, those gaps raised a 500 ms sender's spread to
    // ≈ 700 ms (the window then held 33 beats), and its crash was suspected 5.4 s after its last heartbeat, not ≈ 2.
    const t = table()
    let ms = 0
    for (let stall = 0; stall < 3; stall++) {
      for (const end = ms + 5000; ms < end; ms += 100) {
        if (ms % 500 === 0) t.heartbeat(state('a', { seq: ms + 1 }), ms)
        expect(t.tick(ms)).toEqual([])
      }
      ms += 3000
      t.heartbeat(state('a', { seq: ms + 1 }), ms)
      expect(t.tick(ms)).toEqual([])
      ms += 100
    }
    for (const end = ms + 5000; ms < end; ms += 100) {
      if (ms % 500 === 0) t.heartbeat(state('a', { seq: ms + 1 }), ms)
      expect(t.tick(ms)).toEqual([])
    }
    // Only its beats (a few 400 ms apart, read 100 ms late after a stall): the spread stays at its 100 ms floor.
    expect(t.detectorOf('a')?.stdDeviationMs).toBe(100)
    const last = t.detectorOf('a')?.lastHeartbeatMs as number
    let suspectedAt = Infinity
    for (; ms < last + 10_000 && suspectedAt === Infinity; ms += 100) if (t.tick(ms).some((e) => e.kind === 'suspect')) suspectedAt = ms
    expect(suspectedAt - last).toBeLessThan(2500)
  })

  it('should not excuse its own stalls for a member whose every connection closed: a killed member is found dead through them', () => {
    const t = table()
    // Both beat every 500 ms; b is killed after its heartbeat at 4500 and its connection closes at 4800.
    for (let ms = 0; ms <= 5000; ms += 100) {
      if (ms % 500 === 0) { t.heartbeat(state('a', { seq: ms + 1 }), ms); if (ms <= 4500) t.heartbeat(state('b', { seq: ms + 1 }), ms) }
      if (ms === 4800) t.connectionClosed('b')
      expect(t.tick(ms)).toEqual([])
    }
    // Then the observer runs starved: every tick 1.1 s late (each a stall, excused for a), a's queued heartbeat
    // read after each tick.
    const events: string[] = []
    let stalls = 0
    for (let ms = 6200; ms <= 40_000 && !events.some((e) => e.startsWith('dead b')); ms += 1200) {
      stalls++
      events.push(...t.tick(ms).map((e) => `${e.kind} ${e.nodeId} ${e.atMs}`))
      t.heartbeat(state('a', { seq: ms + 1 }), ms)
    }
    // Judged as of the tick before each stall: silent 2.9 s as of 7400 (suspect at the tick at 8600), suspect
    // 1.2 s as of 8600 (dead at 9800). With the stalls excused for b too, only 100 ms per tick would count:
    // ≈ 1.8 s of silence and 0.7 s of suspicion, some 25 ticks.
    expect(events).toEqual(['suspect b 8600', 'dead b 9800'])
    expect(stalls).toBe(4)
  })

  it('should still judge an unreachable member after its own stall only on what it read before the stall', () => {
    const t = table()
    for (let ms = 0; ms <= 5000; ms += 100) {
      if (ms % 500 === 0) { t.heartbeat(state('a', { seq: ms + 1 }), ms); t.heartbeat(state('b', { seq: ms + 1 }), ms) }
      expect(t.tick(ms)).toEqual([])
    }
    // b's connection closes but b lives: its heartbeats come relayed through a's connection.
    t.connectionClosed('b')
    // The observer stalls 3 s; its late tick runs before the poll phase reads b's relayed heartbeat.
    expect(t.tick(8100)).toEqual([])
    t.heartbeat(state('a', { seq: 8101 }), 8100)
    t.heartbeat(state('b', { seq: 8101 }), 8100)
    for (let ms = 8200; ms <= 9000; ms += 100) expect(t.tick(ms)).toEqual([])
  })

  it('should excuse its own stalls again for a member whose connection reopened', () => {
    const t = table()
    for (let ms = 0; ms <= 5000; ms += 100) {
      if (ms % 500 === 0) { t.heartbeat(state('a', { seq: ms + 1 }), ms); t.heartbeat(state('b', { seq: ms + 1 }), ms) }
      expect(t.tick(ms)).toEqual([])
    }
    // b's connection closes and a new one opens (the redial loop) before its next heartbeat.
    t.connectionClosed('b')
    t.connectionOpened('b', 5000)
    // Three stalls of 1.1 s in a row; b's heartbeats wait behind a backlog on its new connection and are read
    // only after the third. Unreachable, b would be judged 2.4 s silent as of the second: suspect.
    for (let ms = 6200; ms <= 8600; ms += 1200) {
      expect(t.tick(ms)).toEqual([])
      t.heartbeat(state('a', { seq: ms + 1 }), ms + 1)
    }
    t.heartbeat(state('b', { seq: 8601 }), 8601)
    for (let ms = 8700; ms <= 9500; ms += 100) expect(t.tick(ms)).toEqual([])
  })

  it('should list members sorted by NodeId with self always alive', () => {
    const t = table()
    t.heartbeat(state('zz'), 0); t.heartbeat(state('aa'), 0)
    expect(t.view(0).members.map((m) => m.nodeId)).toEqual(['aa', 'self', 'zz'])
  })
})

describe('judgeHeartbeat', () => {
  const judge = (decoded: unknown, extra: { sender?: string, lastSeen?: { generation: number, seq: number } } = {}): ReturnType<typeof judgeHeartbeat> =>
    judgeHeartbeat({ decoded, sender: extra.sender ?? 'a', self: 'self', clusterId: 'c1', lastSeen: extra.lastSeen })

  it('should accept a fresh heartbeat and drop replays and stale generations without penalty', () => {
    expect(judge(state('a', { generation: 2, seq: 5 }), { lastSeen: { generation: 2, seq: 4 } }).ok).toBe(true)
    expect(judge(state('a', { generation: 3, seq: 1 }), { lastSeen: { generation: 2, seq: 400 } }).ok).toBe(true)
    expect(judge(state('a', { generation: 2, seq: 4 }), { lastSeen: { generation: 2, seq: 4 } })).toMatchObject({ ok: false, reason: 'replay', reject: false })
    expect(judge(state('a', { generation: 1, seq: 99 }), { lastSeen: { generation: 2, seq: 1 } })).toMatchObject({ ok: false, reason: 'stale-generation', reject: false })
  })

  it('should reject a state claiming another node, another cluster or a malformed body', () => {
    expect(judge(state('b'), { sender: 'a' })).toMatchObject({ ok: false, reason: 'sender-mismatch', reject: true })
    expect(judge(state('a', { clusterId: 'other' }))).toMatchObject({ ok: false, reason: 'wrong-cluster', reject: true })
    expect(judge({ nodeId: 'a' })).toMatchObject({ ok: false, reason: 'malformed', reject: true })
    expect(judge({ ...state('a'), seq: -1 })).toMatchObject({ ok: false, reason: 'malformed' })
    expect(judge({ ...state('a'), labels: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'])) })).toMatchObject({ ok: false, reason: 'malformed' })
  })
})
