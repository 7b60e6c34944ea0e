/**
 * The API's group commit (issue 16): a lone request is proposed at once and alone; requests arriving
 * while a batch is in flight wait and go out together as the next one, within the count and byte limits;
 * each caller gets its own command's outcome; a failed batch fails each of its callers.
 */
import { describe, expect, it, vi } from 'vitest'
import { ProposalBatcher, commandResultOf } from '../../src/consensus/proposal-batcher.js'
import type { BatchProposeOptions } from '../../src/consensus/proposal-batcher.js'
import { ConsensusTimeoutError, ProposalLostError } from '../../src/consensus/errors.js'
import type { ProposalResult } from '../../src/consensus/raft-node.js'
import type { ApplyResult, BatchedCommand, CommandGroup, Outcome } from '../../src/consensus/shape/core/index.js'

interface Call { items: BatchedCommand[], groups?: CommandGroup[], forwarded?: true, options?: BatchProposeOptions, settle: (result: ProposalResult<ApplyResult>) => void, fail: (err: Error) => void }

/** Each batch's flight, as the batcher's clock sees it: it lingers at most half of this. */
const FLIGHT_MS = 1_000_000

function harness (limits: Partial<ConstructorParameters<typeof ProposalBatcher>[1]> = {}, flightMs = FLIGHT_MS,
  role: { leads: boolean } = { leads: true }): { batcher: ProposalBatcher, calls: Call[] } {
  let clock = 0
  const calls: Call[] = []
  const pending = async (items: BatchedCommand[], extra: Partial<Call> = {}): Promise<ProposalResult<ApplyResult>> => await new Promise((resolve, reject) => {
    calls.push({ items, ...extra, settle: resolve, fail: reject })
  })
  const batcher = new ProposalBatcher({
    proposeOne: async (item, options) => await pending([item], { options }),
    proposeBatch: async (items, options) => await pending(items, { options }),
    proposeMerged: async (items, groups, options) => await pending(items, { groups, options }),
    forward: async (items, options) => await pending(items, { forwarded: true, options }),
    self: 'a',
    forwarding: () => !role.leads,
    encodedBytes: () => 100,
    // Every reading is one flight later than the last: a batch answered has flown FLIGHT_MS.
    nowMs: () => (clock += flightMs)
  }, { commandsMax: 4, bytesMax: 1000, inFlightMax: 1, queueMax: 8, lingerMaxMs: 0, ...limits })
  return { batcher, calls }
}

const item = (n: number): BatchedCommand => ({ command: { kind: 'restore', nodeId: `n${n}` }, reason: 'operator' })
const applied: Outcome = { kind: 'applied' }
const held: Outcome = { kind: 'rejected', code: 'role-already-held', message: 'held' }
const result = (index: number, outcomes?: Outcome[]): ProposalResult<ApplyResult> =>
  ({ index, term: 1, duplicate: false, result: { index, term: 1, cid: `c${index}`, outcome: applied, ...(outcomes !== undefined ? { outcomes } : {}) } })
const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

describe('ProposalBatcher', () => {
  it('should propose a lone request at once, alone', async () => {
    const { batcher, calls } = harness()
    const answer = batcher.submit(item(1))
    expect(calls.map((c) => c.items)).toEqual([[item(1)]])
    calls[0]!.settle(result(5))
    expect(await answer).toEqual(result(5))
    expect(batcher.counters()).toMatchObject({ batches: 1, batchedCommands: 1, lingers: 0, lingerTimeouts: 0 })
  })

  it('should send every command alone (a v1 envelope each) while batching is off (protocol level below v2)', async () => {
    let batching = false
    const calls: BatchedCommand[][] = []
    const batches: BatchedCommand[][] = []
    const settles: Array<() => void> = []
    const pending = async (items: BatchedCommand[], into: BatchedCommand[][]): Promise<ProposalResult<ApplyResult>> => await new Promise((resolve) => {
      into.push(items)
      settles.push(() => { resolve(result(into.length, items.length > 1 ? items.map(() => applied) : undefined)) })
    })
    const batcher = new ProposalBatcher({
      proposeOne: async (one) => await pending([one], calls),
      proposeBatch: async (items) => await pending(items, batches),
      encodedBytes: () => 100,
      batching: () => batching
    }, { commandsMax: 4, bytesMax: 1000, inFlightMax: 1, queueMax: 8, lingerMaxMs: 0 })
    const answers = [1, 2, 3, 4].map(async (n) => await batcher.submit(item(n)))
    for (let i = 0; i < 4; i++) {
      await tick()
      settles.shift()!()
    }
    expect((await Promise.all(answers)).every((a) => a.result.outcome.kind === 'applied')).toBe(true)
    expect(calls).toEqual([[item(1)], [item(2)], [item(3)], [item(4)]])
    expect(batches).toEqual([])
    // Once the level allows it, the commands that wait together go out together again.
    batching = true
    const more = [5, 6, 7].map(async (n) => await batcher.submit(item(n)))
    await tick()
    settles.shift()!()
    await tick()
    settles.shift()!()
    await Promise.all(more)
    expect(batches).toEqual([[item(6), item(7)]])
  })

  it('should send requests that arrive while a batch is in flight together, each answered with its own outcome', async () => {
    const { batcher, calls } = harness()
    const first = batcher.submit(item(1))
    const rest = [2, 3, 4].map(async (n) => await batcher.submit(item(n)))
    expect(calls).toHaveLength(1)
    calls[0]!.settle(result(5))
    await first
    await tick()
    expect(calls.map((c) => c.items.length)).toEqual([1, 3])
    calls[1]!.settle(result(6, [applied, held, applied]))
    const answers = await Promise.all(rest)
    expect(answers.map((a) => [a.index, a.result.outcome.kind, a.batch])).toEqual([
      [6, 'applied', { position: 0, commands: 3 }], [6, 'rejected', { position: 1, commands: 3 }], [6, 'applied', { position: 2, commands: 3 }]
    ])
    expect(answers.every((a) => a.result.outcomes === undefined)).toBe(true)
    expect(batcher.counters()).toMatchObject({ batches: 2, batchedCommands: 4, lingers: 0, lingerTimeouts: 0 })
  })

  it('should cut batches at the command and byte limits and refuse beyond the queue bound', async () => {
    const { batcher, calls } = harness({ bytesMax: 250 })
    void batcher.submit(item(0))
    const queued = [1, 2, 3, 4, 5, 6, 7, 8].map(async (n) => await batcher.submit(item(n)).catch((err: Error) => err.message))
    await expect(batcher.submit(item(9))).rejects.toMatchObject({ name: 'ConsensusBusyError' })
    calls[0]!.settle(result(1))
    await tick()
    // 100 bytes each, 250 at most: two per batch.
    expect(calls[1]!.items).toEqual([item(1), item(2)])
    calls[1]!.settle(result(2, [applied, applied]))
    await tick()
    expect(calls[2]!.items).toEqual([item(3), item(4)])
    calls[2]!.fail(new Error('gone'))
    await tick()
    // Only commandsMax (4) per batch however small they are.
    const { batcher: small, calls: smallCalls } = harness({ bytesMax: 10_000 })
    void small.submit(item(0))
    for (const n of [1, 2, 3, 4, 5, 6]) void small.submit(item(n)).catch(() => undefined)
    smallCalls[0]!.settle(result(1))
    await tick()
    expect(smallCalls[1]!.items).toHaveLength(4)
    expect((await Promise.all(queued.slice(0, 4))).map((a) => typeof a === 'string' ? a : a.index)).toEqual([2, 2, 'gone', 'gone'])
  })

  it('should fail every caller of a batch that fails', async () => {
    const { batcher, calls } = harness()
    void batcher.submit(item(0))
    const rest = [1, 2].map(async (n) => await batcher.submit(item(n)).catch((err: Error) => err.name))
    calls[0]!.settle(result(1))
    await tick()
    const timeout = new Error('timed out')
    timeout.name = 'ConsensusTimeoutError'
    calls[1]!.fail(timeout)
    expect(await Promise.all(rest)).toEqual(['ConsensusTimeoutError', 'ConsensusTimeoutError'])
  })

  it('should let the next batch wait for the callers the last batch answered (closed-loop callers come back)', async () => {
    // An hour: only the callers coming back can end this wait, never the timer.
    const { batcher, calls } = harness({ lingerMaxMs: 3_600_000 })
    void batcher.submit(item(1))
    const second = [2, 3].map(async (n) => await batcher.submit(item(n)))
    calls[0]!.settle(result(1))
    await tick()
    // A batch of one answered one caller: no wait, the queued two go at once.
    expect(calls.map((c) => c.items.length)).toEqual([1, 2])
    calls[1]!.settle(result(2, [applied, applied]))
    await Promise.all(second)
    await tick()
    // Its two callers send their next requests: the first one alone is not proposed...
    const third = [batcher.submit(item(4))]
    await tick()
    expect(calls).toHaveLength(2)
    third.push(batcher.submit(item(5)))
    // ...both go out together once as many commands as the last batch answered are queued.
    expect(calls.map((c) => c.items)).toEqual([[item(1)], [item(2), item(3)], [item(4), item(5)]])
    calls[2]!.settle(result(3, [applied, applied]))
    await Promise.all(third)
    expect(batcher.counters()).toMatchObject({ batches: 3, lingers: 2, lingerTimeouts: 0 })
  })

  it('should stop waiting for callers after lingerMaxMs, and never wait after a batch of one', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const { batcher, calls } = harness({ lingerMaxMs: 5 })
      void batcher.submit(item(1))
      calls[0]!.settle(result(1))
      await tick()
      // After a batch of one, the next lone request is proposed at once.
      void batcher.submit(item(2))
      const both = [3, 4].map(async (n) => await batcher.submit(item(n)))
      expect(calls.map((c) => c.items.length)).toEqual([1, 1])
      calls[1]!.settle(result(2))
      await tick()
      expect(calls.map((c) => c.items.length)).toEqual([1, 1, 2])
      calls[2]!.settle(result(3, [applied, applied]))
      await Promise.all(both)
      await tick()
      // One of the two callers comes back; the other does not: the batch leaves at the linger bound.
      void batcher.submit(item(5))
      await tick()
      expect(calls).toHaveLength(3)
      vi.advanceTimersByTime(5)
      expect(calls.map((c) => c.items)).toEqual([[item(1)], [item(2)], [item(3), item(4)], [item(5)]])
      expect(batcher.counters()).toMatchObject({ lingers: 1, lingerTimeouts: 1 })
    } finally {
      vi.useRealTimers()
    }
  })

  it('should wait no longer than half of the answered batch\'s flight', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const { batcher, calls } = harness({ lingerMaxMs: 3_600_000 }, 10)
      void batcher.submit(item(1))
      const both = [2, 3].map(async (n) => await batcher.submit(item(n)))
      calls[0]!.settle(result(1))
      await tick()
      calls[1]!.settle(result(2, [applied, applied]))
      await Promise.all(both)
      await tick()
      void batcher.submit(item(4))
      await tick()
      vi.advanceTimersByTime(4)
      expect(calls).toHaveLength(2)
      vi.advanceTimersByTime(1)
      expect(calls.map((c) => c.items)).toEqual([[item(1)], [item(2), item(3)], [item(4)]])
    } finally {
      vi.useRealTimers()
    }
  })

  it('should split a refused batch into the same refusal for each command', () => {
    const refusal: Outcome = { kind: 'rejected', code: 'bad-signature', message: 'x' }
    const batch = { ...result(3, [refusal, refusal]), result: { ...result(3).result, outcome: refusal, outcomes: [refusal, refusal] } }
    expect(commandResultOf(batch, 1, 2).result.outcome).toEqual(refusal)
  })

  describe('forwarded requests (issue 16)', () => {
    const group = (client: string, seq: number, ...ns: number[]): CommandGroup & { via: { clientId: string, seq: number } } =>
      ({ commands: ns.map(item), via: { clientId: `${client}/s`, seq } })

    it('should send a follower\'s batch to the leader as one request, and answer each caller from its group', async () => {
      const { batcher, calls } = harness({}, FLIGHT_MS, { leads: false })
      const first = batcher.submit(item(1))
      const rest = [2, 3].map(async (n) => await batcher.submit(item(n)))
      expect(calls.map((c) => [c.items.length, c.forwarded])).toEqual([[1, true]])
      calls[0]!.settle({ ...result(7, [applied]), result: { ...result(7).result, outcomes: [applied], group: { first: 2, commands: 3 } } })
      expect((await first).batch).toEqual({ position: 2, commands: 3 })
      await tick()
      expect(calls.map((c) => [c.items.length, c.forwarded])).toEqual([[1, true], [2, true]])
      calls[1]!.settle({ ...result(8), result: { ...result(8).result, outcomes: [held, applied], group: { first: 0, commands: 5 } } })
      const answers = await Promise.all(rest)
      expect(answers.map((a) => [a.result.outcome.kind, a.batch])).toEqual([['rejected', { position: 0, commands: 5 }], ['applied', { position: 1, commands: 5 }]])
      expect(answers.every((a) => a.result.outcomes === undefined && a.result.group === undefined)).toBe(true)
      expect(batcher.counters()).toMatchObject({ batches: 0, batchedCommands: 0, requestsForwarded: 2, requestCommandsForwarded: 3 })
    })

    it('should put followers\' groups into the leader\'s next envelope with its own commands first, each group whole', async () => {
      const { batcher, calls } = harness({ commandsMax: 4 })
      void batcher.submit(item(0))
      const own = [1, 2].map(async (n) => await batcher.submit(item(n)))
      expect(batcher.submitGroup(group('b', 1, 10), 100)).toBe(true)
      // A second request of b's session waits for the envelope after: one id per session per entry.
      expect(batcher.submitGroup(group('b', 2, 11), 100)).toBe(true)
      expect(batcher.submitGroup(group('c', 1, 12, 13), 200)).toBe(true)
      calls[0]!.settle(result(1))
      await tick()
      // Own two first (arrival order), b's first group; c's two commands would pass commandsMax: next time.
      expect(calls[1]).toMatchObject({ items: [item(1), item(2)], groups: [group('b', 1, 10)] })
      calls[1]!.settle(result(2, [applied, held, applied]))
      expect((await Promise.all(own)).map((a) => a.batch)).toEqual([{ position: 0, commands: 3 }, { position: 1, commands: 3 }])
      await tick()
      expect(calls[2]).toMatchObject({ items: [], groups: [group('b', 2, 11), group('c', 1, 12, 13)] })
      expect(batcher.counters()).toMatchObject({ batches: 3, batchedCommands: 7, groupsMerged: 3, groupCommandsMerged: 4 })
    })

    it('should let the leader\'s next envelope wait for the followers\' callers its last one answered, up to two flights', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      try {
        const { batcher, calls } = harness({ lingerMaxMs: 3_600_000 }, 10)
        void batcher.submit(item(0))
        void batcher.submit(item(1))
        batcher.submitGroup(group('b', 1, 10, 11), 200)
        calls[0]!.settle(result(1))
        await tick()
        expect(calls[1]).toMatchObject({ items: [item(1)], groups: [group('b', 1, 10, 11)] })
        // One own caller and b's two: three answered. The own caller comes back at once, b's are a hop away.
        calls[1]!.settle(result(2, [applied, applied, applied]))
        await tick()
        void batcher.submit(item(2))
        await tick()
        vi.advanceTimersByTime(19)
        expect(calls).toHaveLength(2)
        // b's next request arrives within the flight: it joins the same envelope.
        batcher.submitGroup(group('b', 2, 12, 13), 200)
        expect(calls[2]).toMatchObject({ items: [item(2)], groups: [group('b', 2, 12, 13)] })
        calls[2]!.settle(result(3, [applied, applied, applied]))
        await tick()
        // Nobody of b comes back this time: the envelope leaves when two flights (20 ms here) have passed.
        void batcher.submit(item(3))
        await tick()
        vi.advanceTimersByTime(19)
        expect(calls).toHaveLength(3)
        vi.advanceTimersByTime(1)
        expect(calls[3]).toMatchObject({ items: [item(3)] })
        expect(batcher.counters()).toMatchObject({ lingers: 2, lingerTimeouts: 1 })
      } finally {
        vi.useRealTimers()
      }
    })

    it('should not queue a group again while it is queued or in flight, and should again once its envelope is done', async () => {
      const { batcher, calls } = harness()
      void batcher.submit(item(0))
      expect(batcher.submitGroup(group('b', 1, 10), 100)).toBe(true)
      expect(batcher.submitGroup(group('b', 1, 10), 100)).toBe(false)
      calls[0]!.settle(result(1))
      await tick()
      expect(calls[1]!.groups).toEqual([group('b', 1, 10)])
      expect(batcher.submitGroup(group('b', 1, 10), 100)).toBe(false)
      calls[1]!.fail(new Error('lost with the leader'))
      await tick()
      expect(batcher.submitGroup(group('b', 1, 10), 100)).toBe(true)
    })

    it('should not let a request it forwarded while following hold back its own envelope once it leads', async () => {
      const role = { leads: false }
      const { batcher, calls } = harness({}, FLIGHT_MS, role)
      const mine = batcher.submit(item(1))
      expect(calls[0]).toMatchObject({ items: [item(1)], forwarded: true })
      // It now leads; its request reaches its own intake as a group, and goes out although it is in flight.
      role.leads = true
      expect(batcher.submitGroup(group('self', 1, 1), 100)).toBe(true)
      expect(calls[1]).toMatchObject({ items: [], groups: [group('self', 1, 1)] })
      calls[1]!.settle(result(2, [applied]))
      calls[0]!.settle({ ...result(2), result: { ...result(2).result, outcomes: [applied], group: { first: 0, commands: 1 } } })
      expect((await mine).index).toBe(2)
    })

    it('should drop the followers\' groups, not its own commands, when it stops leading', async () => {
      const role = { leads: true }
      const { batcher, calls } = harness({}, FLIGHT_MS, role)
      void batcher.submit(item(0))
      batcher.submitGroup(group('b', 1, 10), 100)
      const mine = batcher.submit(item(1))
      role.leads = false
      calls[0]!.settle(result(1))
      await tick()
      expect(calls[1]).toMatchObject({ items: [item(1)], forwarded: true })
      expect(calls[1]!.groups).toBeUndefined()
      calls[1]!.settle({ ...result(2), result: { ...result(2).result, outcomes: [applied], group: { first: 0, commands: 1 } } })
      expect((await mine).index).toBe(2)
      expect(batcher.counters()).toMatchObject({ groupsDropped: 1, groupsMerged: 0 })
      // Dropped means forgotten: the follower's retry is queued again at the next leader (here, later).
      role.leads = true
      expect(batcher.submitGroup(group('b', 1, 10), 100)).toBe(true)
    })

    it('should send its own commands of a lost envelope again, first in line, and answer their callers from the new entry', async () => {
      const role = { leads: true }
      const { batcher, calls } = harness({ resubmitsMax: 1 }, FLIGHT_MS, role)
      void batcher.submit(item(0))
      const mine = [1, 2].map(async (n) => await batcher.submit(item(n)))
      batcher.submitGroup(group('b', 1, 10), 100)
      calls[0]!.settle(result(1))
      await tick()
      expect(calls[1]).toMatchObject({ items: [item(1), item(2)], groups: [group('b', 1, 10)] })
      const later = batcher.submit(item(3))
      // Deposed before it committed; then the committed log rules the envelope out (raft-node.ts).
      role.leads = false
      calls[1]!.fail(Object.assign(new Error('lost'), { name: 'ProposalLostError' }))
      await tick()
      // Its own commands go again ahead of the one queued since, as a request; b's group is b's to retry.
      expect(calls[2]).toMatchObject({ items: [item(1), item(2), item(3)], forwarded: true })
      expect(calls[2]!.groups).toBeUndefined()
      expect(batcher.counters()).toMatchObject({ commandsResubmitted: 2 })
      calls[2]!.settle({ ...result(7), result: { ...result(7).result, outcomes: [applied, held, applied], group: { first: 0, commands: 3 } } })
      expect((await Promise.all(mine)).map((a) => [a.index, a.result.outcome.kind])).toEqual([[7, 'applied'], [7, 'rejected']])
      expect((await later).index).toBe(7)
      // At most resubmitsMax times: lost again, the caller gets the error.
      const once = batcher.submit(item(4))
      await tick()
      calls[3]!.fail(Object.assign(new Error('lost'), { name: 'ProposalLostError' }))
      await tick()
      calls[4]!.fail(Object.assign(new Error('lost again'), { name: 'ProposalLostError' }))
      await expect(once).rejects.toThrow('lost again')
      expect(calls).toHaveLength(5)
    })

    it('should keep the deadline of a lost command\'s first submission on every resubmission, and not lend it to commands queued since', async () => {
      const role = { leads: true }
      const { batcher, calls } = harness({ resubmitsMax: 3 }, FLIGHT_MS, role)
      void batcher.submit(item(0))
      const mine = [1, 2].map(async (n) => await batcher.submit(item(n)).catch((err: Error) => err))
      batcher.submitGroup(group('b', 1, 10), 100)
      calls[0]!.settle(result(1))
      await tick()
      // First submission: the driver's own operation timeout applies (no deadline passed).
      expect(calls[1]).toMatchObject({ items: [item(1), item(2)], options: { leaderOnly: true } })
      expect(calls[1]!.options?.deadlineMs).toBeUndefined()
      const later = batcher.submit(item(3))
      // The driver rules the envelope out and names its deadline (that of the first submission).
      calls[1]!.fail(new ProposalLostError('lost', 30_000))
      await tick()
      // The resubmission carries it; the command queued since is not in that batch (it keeps its own).
      expect(calls[2]).toMatchObject({ items: [item(1), item(2)], options: { deadlineMs: 30_000 } })
      // Lost again (the driver passes back the deadline it was given): still the first one, never a fresh one.
      calls[2]!.fail(new ProposalLostError('lost again', 30_000))
      await tick()
      expect(calls[3]).toMatchObject({ items: [item(1), item(2)], options: { deadlineMs: 30_000 } })
      // At the deadline the driver times it out: the callers hear of it then, and nothing goes again.
      calls[3]!.fail(Object.assign(new Error('timed out'), { name: 'ConsensusTimeoutError' }))
      await tick()
      expect((await Promise.all(mine)).map((e) => (e as Error).name)).toEqual(['ConsensusTimeoutError', 'ConsensusTimeoutError'])
      expect(calls[4]).toMatchObject({ items: [item(3)] })
      expect(calls[4]!.options?.deadlineMs).toBeUndefined()
      calls[4]!.settle(result(9))
      expect((await later).index).toBe(9)
      expect(calls).toHaveLength(5)
    })

    it('should answer a lost command whose first deadline passed before it could go again as lost (not applied), not as a timeout', async () => {
      const { batcher, calls } = harness({ resubmitsMax: 3 })
      const answer = batcher.submit(item(1)).catch((err: Error) => err)
      calls[0]!.fail(new ProposalLostError('lost', 30_000))
      await tick()
      expect(calls[1]).toMatchObject({ items: [item(1)], options: { deadlineMs: 30_000 } })
      // The driver proposes nothing past the deadline (raft-node.ts): nothing of the command can commit.
      calls[1]!.fail(new ConsensusTimeoutError('deadline passed before it was proposed (not proposed)', false))
      const err = await answer as ProposalLostError
      expect(err.name).toBe('ProposalLostError')
      expect(err.message).toMatch(/^lost with its leader before it committed \(1 time\(s\)\); its first deadline passed before it could be sent again/)
      expect(err.deadlineMs).toBe(30_000)
      // A timeout of a proposal that was made stays a timeout (its fate is unknown).
      const made = batcher.submit(item(2)).catch((e: Error) => e)
      calls[2]!.fail(new ProposalLostError('lost', 40_000))
      await tick()
      calls[3]!.fail(new ConsensusTimeoutError('timed out'))
      expect((await made as Error).name).toBe('ConsensusTimeoutError')
      expect(calls).toHaveLength(4)
    })

    it('should mark a merged envelope leader-only only when a group is another node\'s (not a request it forwarded before it led)', async () => {
      const { batcher, calls } = harness()
      void batcher.submit(item(0))
      batcher.submitGroup(group('a', 1, 10), 100)
      calls[0]!.settle(result(1))
      await tick()
      expect(calls[1]).toMatchObject({ groups: [group('a', 1, 10)], options: { leaderOnly: false } })
      batcher.submitGroup(group('b', 1, 11), 100)
      calls[1]!.settle({ ...result(2), result: { ...result(2).result, outcomes: [applied] } })
      await tick()
      expect(calls[2]).toMatchObject({ groups: [group('b', 1, 11)], options: { leaderOnly: true } })
    })

    it('should keep a flooding sender to its share of the queue, so another sender and this node still get their commands in', async () => {
      const { batcher, calls } = harness({ commandsMax: 4, queueMax: 8, groupCommandsPerSenderMax: 4 })
      void batcher.submit(item(0))
      // b floods under fresh sessions (each request id new): two commands a group, as many as it may.
      let accepted = 0
      let busy = 0
      for (let k = 0; k < 50; k++) {
        try {
          if (batcher.submitGroup({ commands: [item(100 + 2 * k), item(101 + 2 * k)], via: { clientId: `b/s${k}`, seq: 1 } }, 200)) accepted++
        } catch (err) {
          expect((err as Error).name).toBe('ConsensusBusyError')
          busy++
        }
      }
      expect([accepted, busy]).toEqual([2, 48])
      // c's request and this node's own command still queue.
      expect(batcher.submitGroup(group('c', 1, 10, 11), 200)).toBe(true)
      const own = batcher.submit(item(1))
      for (let n = 0; n < 4 && calls.length > n; n++) {
        calls[n]!.settle(result(n + 1, [applied, applied, applied, applied]))
        await tick()
      }
      expect(calls.some((c) => c.items.some((i) => JSON.stringify(i) === JSON.stringify(item(1))))).toBe(true)
      expect(calls.some((c) => (c.groups ?? []).some((g) => g.via?.clientId === 'c/s'))).toBe(true)
      expect((await own).result.outcome).toEqual(applied)
    })

    it('should never let followers\' groups crowd this node\'s own commands out of the queue', async () => {
      const { batcher, calls } = harness({ commandsMax: 4, queueMax: 8, groupCommandsPerSenderMax: 4 })
      void batcher.submit(item(0))
      // Two senders, each within its share, fill the followers' budget; a third is refused for now.
      for (const sender of ['b', 'c']) expect(batcher.submitGroup(group(sender, 1, 10, 11, 12, 13), 400)).toBe(true)
      expect(() => batcher.submitGroup(group('d', 1, 14), 100)).toThrow(/followers' commands wait/)
      const own = Array.from({ length: 8 }, async (_, n) => await batcher.submit(item(n + 1)))
      await expect(batcher.submit(item(9))).rejects.toMatchObject({ name: 'ConsensusBusyError' })
      for (let n = 0; calls.length > n && n < 8; n++) {
        calls[n]!.settle(result(n + 1, Array.from({ length: 4 }, () => applied)))
        await tick()
      }
      expect((await Promise.all(own)).every((a) => a.result.outcome.kind === 'applied')).toBe(true)
    })
  })
})

