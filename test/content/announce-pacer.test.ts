/**
 * The sender's pacing of its own announcements (src/content/core/announce-pacer.ts), driven as announcer.ts
 * drives it (a `take` at every call and at the timer the pacer asks for), and checked against the receivers'
 * own limiter: what it sends, replayed into a real `PeerRateLimiter` at the times it was sent, is never
 * rate-limited. Then the announcer's timer, under fake timers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import {
  ANNOUNCE_COALESCE_MS, ANNOUNCE_INTERVAL_MS, ANNOUNCE_MESSAGES_BURST, ANNOUNCE_PACER_LIMITS, AnnouncePacer, GOSSIP_MESSAGES_PER_PEER_BURST,
  GOSSIP_MESSAGES_PER_PEER_PER_S, HAVE_ITEMS_PER_MESSAGE_MAX, PeerRateLimiter, ProviderTable, decodeAnnouncement
} from '../../src/content/core/index.js'
import type { Announcement, HaveItem } from '../../src/content/core/index.js'
import { Announcer } from '../../src/content/announcer.js'
import type { NetNode } from '../../src/net/index.js'
import { capturingLogger } from '../node/helpers.js'

/** A root CID (dag-cbor, BLAKE3) numbered `n`. */
function cidOf (n: number): CID {
  const bytes = new Uint8Array(32)
  new DataView(bytes.buffer).setUint32(0, n)
  return CID.createV1(0x71, createDigest(0x1e, bytes))
}
const item = (n: number, partial = false): HaveItem => ({ cid: cidOf(n), size: 1000 + n, partial })

type Arrival = { atMs: number, have: HaveItem } | { atMs: number, want: CID }
interface Emission { atMs: number, message: Announcement }

/** Feeds `arrivals` (in time order) to `pacer` as announcer.ts does, and returns what it sends, when. */
function drive (pacer: AnnouncePacer, arrivals: Arrival[], fromMs = 0): Emission[] {
  const sent: Emission[] = []
  let timerAtMs = pacer.nextAtMs(fromMs)
  const flush = (nowMs: number): void => {
    for (const message of pacer.take(nowMs)) sent.push({ atMs: nowMs, message })
    const next = pacer.nextAtMs(nowMs)
    timerAtMs = next === undefined ? undefined : Math.max(nowMs + 1, next)
  }
  const fireTimersUntil = (untilMs: number): void => {
    for (let steps = 0; timerAtMs !== undefined && timerAtMs <= untilMs; steps++) {
      expect(steps).toBeLessThan(1_000_000)
      flush(timerAtMs)
    }
  }
  for (const a of arrivals) {
    fireTimersUntil(a.atMs)
    if ('have' in a) pacer.have([a.have])
    else pacer.want(a.want)
    flush(a.atMs)
  }
  fireTimersUntil(Number.POSITIVE_INFINITY)
  return sent
}

/** `count` single-item haves spread evenly over `overMs` from `startMs` (all at `startMs` for 0). */
function haves (count: number, overMs: number, startMs = 0, firstN = 0): Arrival[] {
  return Array.from({ length: count }, (_, i) => ({ atMs: startMs + Math.floor(i * overMs / count), have: item(firstN + i) }))
}

/** How many of `sent` the receivers' limiter (real limits) refuses when each arrives at `arrivalMs`. */
function refusedByReceiver (sent: Emission[], arrivalMs = (e: Emission) => e.atMs, limiter = new PeerRateLimiter()): number {
  const arrivals = sent.map(arrivalMs).sort((x, y) => x - y)
  return arrivals.filter((atMs) => !limiter.take('sender', atMs)).length
}

function itemsSent (sent: Emission[]): HaveItem[] {
  return sent.flatMap((e) => e.message.type === 'have' ? e.message.items : [])
}

describe('content announcement pacer', () => {
  it('should spend half the receivers\' rate and burst', () => {
    expect(ANNOUNCE_PACER_LIMITS.ratePerS).toBe(GOSSIP_MESSAGES_PER_PEER_PER_S / 2)
    expect(ANNOUNCE_PACER_LIMITS.burst).toBe(GOSSIP_MESSAGES_PER_PEER_BURST / 2)
  })

  it('should send a lone have at once, and gather one that follows the previous within the coalescing interval', () => {
    const pacer = new AnnouncePacer()
    pacer.have([item(1)])
    expect(pacer.take(1000)).toEqual([{ type: 'have', items: [item(1)] }])
    expect(pacer.nextAtMs(1000)).toBeUndefined()
    // Within the interval: waits for its end, gathering what comes meanwhile.
    pacer.have([item(2)])
    expect(pacer.take(1000 + ANNOUNCE_COALESCE_MS / 2)).toEqual([])
    pacer.have([item(3)])
    expect(pacer.nextAtMs(1000 + ANNOUNCE_COALESCE_MS / 2)).toBe(1000 + ANNOUNCE_COALESCE_MS)
    expect(pacer.take(1000 + ANNOUNCE_COALESCE_MS)).toEqual([{ type: 'have', items: [item(2), item(3)] }])
    // A full interval later: at once again.
    pacer.have([item(4)])
    expect(pacer.take(1000 + 2 * ANNOUNCE_COALESCE_MS)).toEqual([{ type: 'have', items: [item(4)] }])
    expect(pacer.counters()).toMatchObject({ 'queued.items': 0, 'sent.have': 3, 'sent.items': 4 })
  })

  it.each([1, 2, 63, 64, 65, 129, 500, 2000])('should pack a burst of %i single-item haves into at most ceil(N/64) + 1 messages, each item once', (n) => {
    const sent = drive(new AnnouncePacer(), haves(n, 0))
    expect(sent.length).toBeLessThanOrEqual(Math.ceil(n / HAVE_ITEMS_PER_MESSAGE_MAX) + 1)
    expect(sent.every((e) => e.message.type === 'have' && e.message.items.length <= HAVE_ITEMS_PER_MESSAGE_MAX)).toBe(true)
    expect(itemsSent(sent).map((i) => i.size).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => 1000 + i))
    // All of it within the burst: the last message one coalescing interval after the first at most.
    expect(Math.max(...sent.map((e) => e.atMs))).toBeLessThanOrEqual(ANNOUNCE_COALESCE_MS)
    expect(refusedByReceiver(sent)).toBe(0)
  })

  it.each([
    ['2,000 items over 1 s', haves(2000, 1000)],
    ['2,000 items over 60 s', haves(2000, 60_000)],
    ['2,000 items in bursts of 100 every 2 s', Array.from({ length: 20 }, (_, k) => haves(100, 0, k * 2000, k * 100)).flat()],
    ['20,000 items at once (a re-announcement of everything held)', haves(20_000, 0)],
    ['2,000 items over 60 s with a want every 50 ms', mixWants(haves(2000, 60_000), 50, 60_000)]
  ])('should never exceed the receivers\' bucket: %s, replayed into a real PeerRateLimiter', (_name, arrivals) => {
    const sent = drive(new AnnouncePacer(), arrivals)
    expect(refusedByReceiver(sent)).toBe(0)
    expect(new Set(itemsSent(sent).map((i) => i.cid.toString())).size).toBe(arrivals.filter((a) => 'have' in a).length)
    // Within its own budget too, so the receivers' other half is spare.
    expect(refusedByReceiver(sent, (e) => e.atMs, new PeerRateLimiter(ANNOUNCE_PACER_LIMITS.ratePerS, ANNOUNCE_PACER_LIMITS.burst))).toBe(0)
  })

  it('should send a re-announcement of 19,200 items within the 30 s interval, and no more than 64 × 10/s allows', () => {
    const itemsPer30s = ANNOUNCE_PACER_LIMITS.ratePerS * HAVE_ITEMS_PER_MESSAGE_MAX * ANNOUNCE_INTERVAL_MS / 1000
    expect(itemsPer30s).toBe(19_200)
    const sent = drive(new AnnouncePacer(), haves(itemsPer30s, 0))
    expect(Math.max(...sent.map((e) => e.atMs))).toBeLessThan(ANNOUNCE_INTERVAL_MS)
    // Past the burst, messages go no faster than the rate: 10 a second, full.
    const lastMs = Math.max(...drive(new AnnouncePacer(), haves(itemsPer30s + ANNOUNCE_MESSAGES_BURST * HAVE_ITEMS_PER_MESSAGE_MAX + 1, 0)).map((e) => e.atMs))
    expect(lastMs).toBeGreaterThanOrEqual(ANNOUNCE_INTERVAL_MS)
  })

  it.each([1, 3000])('should stay inside the receivers\' bucket when the sender restarts (a fresh bucket) %i ms into a flood', (restartMs) => {
    const before = drive(new AnnouncePacer(), haves(20_000, 0)).filter((e) => e.atMs < restartMs)
    const after = drive(new AnnouncePacer(), haves(20_000, 0, restartMs, 20_000))
    expect(refusedByReceiver([...before, ...after])).toBe(0)
  })

  it('should stay inside the receivers\' bucket when delivery holds a flood\'s messages up to 5 s, and not 6 s', () => {
    const sent = drive(new AnnouncePacer(), haves(20_000, 0))
    // Everything sent in the first D ms arrives at once, at D, on top of what is sent then.
    expect(refusedByReceiver(sent, (e) => Math.max(e.atMs, 5000))).toBe(0)
    expect(refusedByReceiver(sent, (e) => Math.max(e.atMs, 6000))).toBeGreaterThan(0)
  })

  it('should show a sender without the pacer refused by the receivers (the check can fail)', () => {
    const unpaced = haves(300, 1000).map((a) => ({ atMs: a.atMs, message: { type: 'have', items: [(a as { have: HaveItem }).have] } as Announcement }))
    expect(refusedByReceiver(unpaced)).toBeGreaterThan(0)
  })

  it('should keep one item per CID, the latest: full replaces partial, and partial replaces full, in its place in line', () => {
    const pacer = new AnnouncePacer()
    pacer.have([item(0)])
    pacer.take(0) // the coalescing interval runs from here
    pacer.have([item(1, true), item(2, false), item(3)])
    pacer.have([item(1, false)]) // the fetch of 1 completed
    pacer.have([item(2, true)]) // 2 found broken: fetched again
    expect(pacer.counters()).toMatchObject({ 'queued.items': 3, 'coalesced.items': 2 })
    expect(pacer.take(ANNOUNCE_COALESCE_MS)).toEqual([{ type: 'have', items: [item(1, false), item(2, true), item(3)] }])
  })

  it('should send wants first, count them against the same budget, and send one want per CID waiting', () => {
    const pacer = new AnnouncePacer()
    // The whole burst on full messages.
    pacer.have(Array.from({ length: ANNOUNCE_MESSAGES_BURST * HAVE_ITEMS_PER_MESSAGE_MAX }, (_, i) => item(i)))
    expect(pacer.take(0)).toHaveLength(ANNOUNCE_MESSAGES_BURST)
    pacer.have([item(100_000)])
    pacer.want(cidOf(7))
    pacer.want(cidOf(7)) // a fetch repeating its want while it waits
    pacer.want(cidOf(8))
    expect(pacer.take(0)).toEqual([])
    const tokenMs = 1000 / ANNOUNCE_PACER_LIMITS.ratePerS
    expect(pacer.nextAtMs(0)).toBe(tokenMs)
    expect(pacer.take(tokenMs)).toEqual([{ type: 'want', cid: cidOf(7) }])
    expect(pacer.take(2 * tokenMs)).toEqual([{ type: 'want', cid: cidOf(8) }])
    expect(pacer.take(3 * tokenMs)).toEqual([{ type: 'have', items: [item(100_000)] }])
    expect(pacer.counters()).toMatchObject({ 'sent.want': 2, 'coalesced.wants': 1, 'queued.wants': 0, 'sent.have': ANNOUNCE_MESSAGES_BURST + 1 })
  })

  it('should bound its queues, dropping the oldest', () => {
    const pacer = new AnnouncePacer({ ...ANNOUNCE_PACER_LIMITS, burst: 1, queuedItemsMax: 3, queuedWantsMax: 2 })
    pacer.want(cidOf(90))
    expect(pacer.take(0)).toHaveLength(1) // the one token
    pacer.have([item(1), item(2), item(3), item(4)])
    pacer.want(cidOf(91))
    pacer.want(cidOf(92))
    pacer.want(cidOf(93))
    expect(pacer.counters()).toMatchObject({ 'queued.items': 3, 'overflowed.items': 1, 'queued.wants': 2, 'overflowed.wants': 1 })
    const rest = drive(pacer, [])
    expect(rest.map((e) => e.message)).toEqual([
      { type: 'want', cid: cidOf(92) }, { type: 'want', cid: cidOf(93) }, { type: 'have', items: [item(2), item(3), item(4)] }
    ])
  })

  it('should not hold haves back when the clock goes back', () => {
    const pacer = new AnnouncePacer()
    pacer.have([item(1)])
    expect(pacer.take(3_600_000)).toHaveLength(1)
    pacer.have([item(2)])
    expect(pacer.take(0)).toEqual([{ type: 'have', items: [item(2)] }])
  })
})

function mixWants (arrivals: Arrival[], everyMs: number, untilMs: number): Arrival[] {
  const wants: Arrival[] = Array.from({ length: Math.floor(untilMs / everyMs) }, (_, i) => ({ atMs: i * everyMs, want: cidOf(1_000_000 + (i % 8)) }))
  return [...arrivals, ...wants].sort((x, y) => x.atMs - y.atMs)
}

describe('content announcer pacing (fake timers)', () => {
  afterEach(() => { vi.useRealTimers() })

  function fakeAnnouncer (publish: (topic: string, data: Uint8Array) => Promise<unknown>): Announcer {
    const pubsub = {
      publish, topicValidators: new Map(), subscribe: () => {}, unsubscribe: () => {}, addEventListener: () => {}, removeEventListener: () => {}
    }
    return new Announcer({
      net: { services: { pubsub } } as unknown as NetNode,
      clusterId: 'c',
      nodeId: 'me',
      table: new ProviderTable(),
      isMember: () => true,
      holding: () => undefined,
      log: capturingLogger().log,
      nowMs: () => Date.now()
    })
  }

  it('should publish a lone have before have() resolves, drain a burst with its timer, and clear the timer at stop', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const published: Array<{ atMs: number, message: Announcement }> = []
    const announcer = fakeAnnouncer(async (_topic, data) => { published.push({ atMs: Date.now(), message: decodeAnnouncement(data) }) })
    announcer.start()
    await announcer.have([item(0)])
    expect(published).toHaveLength(1)

    for (let i = 1; i <= 500; i++) void announcer.have([item(i)])
    await vi.advanceTimersByTimeAsync(ANNOUNCE_COALESCE_MS)
    expect(itemsSent(published).length).toBe(501)
    expect(published.length).toBeLessThanOrEqual(1 + Math.ceil(500 / HAVE_ITEMS_PER_MESSAGE_MAX) + 1)
    expect(announcer.counters()).toMatchObject({ 'queued.items': 0, published: published.length })

    // Gathering when stopped: the timer goes with it, and nothing more is sent.
    await vi.advanceTimersByTimeAsync(10)
    void announcer.have([item(1000)])
    expect(vi.getTimerCount()).toBe(1)
    announcer.stop()
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(itemsSent(published).length).toBe(501)
  })

  it('should keep pacing when publishing fails (no peers yet), with no unhandled rejection', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    let attempts = 0
    const announcer = fakeAnnouncer(async () => { attempts++; throw new Error('NoPeersSubscribedToTopic') })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
    process.on('unhandledRejection', onUnhandled)
    try {
      for (let i = 0; i < 200; i++) void announcer.have([item(i)])
      await vi.advanceTimersByTimeAsync(ANNOUNCE_COALESCE_MS)
      expect(attempts).toBe(1 + Math.ceil(199 / HAVE_ITEMS_PER_MESSAGE_MAX))
      expect(announcer.counters()).toMatchObject({ published: 0, 'queued.items': 0, 'sent.items': 200 })
    } finally {
      await new Promise((resolve) => setImmediate(resolve))
      process.off('unhandledRejection', onUnhandled)
      announcer.stop()
    }
    expect(unhandled).toEqual([])
  })
})
