/**
 * The API's group commit (issue 16): a lone request is proposed at once and alone; requests arriving
 * while a batch is in flight wait and go out together as the next one, within the count and byte limits;
 * each caller gets its own command's outcome; a failed batch fails each of its callers.
 */
import { describe, expect, it, vi } from 'vitest'
import { ProposalBatcher, commandResultOf } from '../../src/consensus/proposal-batcher.js'
import type { ProposalResult } from '../../src/consensus/raft-node.js'
import type { ApplyResult, BatchedCommand, Outcome } from '../../src/consensus/shape/core/index.js'

interface Call { items: BatchedCommand[], settle: (result: ProposalResult<ApplyResult>) => void, fail: (err: Error) => void }

/** Each batch's flight, as the batcher's clock sees it: it lingers at most half of this. */
const FLIGHT_MS = 1_000_000

function harness (limits: Partial<ConstructorParameters<typeof ProposalBatcher>[1]> = {}, flightMs = FLIGHT_MS): { batcher: ProposalBatcher, calls: Call[] } {
  let clock = 0
  const calls: Call[] = []
  const pending = async (items: BatchedCommand[]): Promise<ProposalResult<ApplyResult>> => await new Promise((resolve, reject) => {
    calls.push({ items, settle: resolve, fail: reject })
  })
  const batcher = new ProposalBatcher({
    proposeOne: async (item) => await pending([item]),
    proposeBatch: async (items) => await pending(items),
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
    expect(batcher.counters()).toEqual({ batches: 1, batchedCommands: 1, lingers: 0, lingerTimeouts: 0 })
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
    expect(batcher.counters()).toEqual({ batches: 2, batchedCommands: 4, lingers: 0, lingerTimeouts: 0 })
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
})
