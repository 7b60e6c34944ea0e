/**
 * A first join's deadline (`followJoin`, src/cli/start-command.ts) is on the steady clock (issue 9 item 7). An
 * edge device without a real-time clock boots with a wrong date, and NTP steps it forward by months while it
 * joins: on the wall clock the join failed at its next poll; a step back kept a join that no peer answered
 * waiting for the size of the step. Method: followJoin over a fake node that reaches no peer and a fake
 * consensus that admits it when told; `Date.now` is stepped inside the test right after the join starts (the
 * steady clock took its anchor at import, so the step does not reach it); notes on stderr are swallowed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { followJoin } from '../../src/cli/start-command.js'
import type { RevoadaNode } from '../../src/node/index.js'
import type { ConsensusService } from '../../src/consensus/consensus-service.js'
import { PROTOCOL_LEVEL } from '../../src/consensus/shape/core/protocol.js'
import { waitFor } from '../node/helpers.js'

const HOUR_MS = 60 * 60_000
const DAY_MS = 24 * HOUR_MS
const realNow = Date.now.bind(Date)

/** A joiner that reaches no cluster peer, in no configuration until `admit()`. */
function fakeJoiner (): { node: RevoadaNode, consensus: ConsensusService, polls: () => number, admit: () => void } {
  let polls = 0
  let admitted = false
  const node = {
    nodeId: 'joiner',
    net: { getPeers: () => { polls++; return [] } },
    status: () => ({ nodeId: 'joiner', voters: [], commitIndex: 1 })
  }
  const consensus = {
    started: true,
    node: { configuration: () => ({ voters: [], learners: admitted ? ['joiner'] : [] }) },
    advertisedLevels: () => new Map<string, number>()
  }
  return { node: node as unknown as RevoadaNode, consensus: consensus as unknown as ConsensusService, polls: () => polls, admit: () => { admitted = true } }
}

/** The join running, and how it ended once it has. */
function run (joiner: ReturnType<typeof fakeJoiner>, timeoutMs: number): { ended: () => boolean, error: () => Error | undefined } {
  let ended = false
  let error: Error | undefined
  followJoin(joiner.node, joiner.consensus, timeoutMs, PROTOCOL_LEVEL).then(() => { ended = true }, (err: Error) => { ended = true; error = err })
  return { ended: () => ended, error: () => error }
}

const joiners: Array<ReturnType<typeof fakeJoiner>> = []
afterEach(() => {
  vi.restoreAllMocks()
  // A join that is still polling ends at its next poll.
  for (const joiner of joiners.splice(0)) joiner.admit()
})

describe('followJoin on a stepped wall clock', () => {
  it('should keep waiting when the clock steps forward by months during the join, and end once admitted', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    const joiner = fakeJoiner()
    joiners.push(joiner)
    const join = run(joiner, 60_000)
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 90 * DAY_MS)
    await waitFor(() => joiner.polls() >= 3 || join.ended(), 10_000, 'three polls of the join')
    expect(join.error()).toBeUndefined()
    expect(join.ended()).toBe(false)
    joiner.admit()
    await waitFor(join.ended, 10_000, 'the join to end')
    expect(join.error()).toBeUndefined()
  })

  it('should give up after its timeout when the clock steps back an hour during the join', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    const joiner = fakeJoiner()
    joiners.push(joiner)
    const join = run(joiner, 500)
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() - HOUR_MS)
    await waitFor(join.ended, 10_000, 'the join to give up')
    expect(join.error()?.name).toBe('JoinTimeoutError')
    expect(join.error()?.message).toMatch(/no cluster peer answered within 0\.5 s/)
  })
})
