/**
 * A wall-clock step moves no provider entry (issue 9 item 7): the service measures its entries' 90 s TTL on
 * the steady clock (src/util/clock.ts). On the raw wall clock a step of +10 minutes expired every provider at
 * once, and a step of −1 hour kept one listed (a dead one too) for an hour and a half. Method: two in-process
 * nodes; once A lists B as a provider of an object B added, the wall clock is stepped and A's providers are
 * read at once, before anything else runs. The wall clock is `Date.now` spied on before the nodes start (a
 * default clock is taken at construction), at no offset until the step; the steady clock took its anchor at
 * import, so the step does not reach it.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { PROVIDER_TTL_MS } from '../../src/content/core/index.js'
import { ContentCluster } from './helpers.js'
import { waitFor } from '../node/helpers.js'

const MINUTE_MS = 60_000
const realNow = Date.now.bind(Date)
let wallStepMs = 0
let cluster = new ContentCluster()

beforeEach(() => {
  wallStepMs = 0
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + wallStepMs)
})

afterEach(async () => {
  // The real clock again before the nodes stop (whatever took the spied Date.now keeps it).
  wallStepMs = 0
  await cluster.close()
  cluster = new ContentCluster()
  vi.restoreAllMocks()
})

describe('content provider entries on a stepped wall clock', { timeout: 120_000 }, () => {
  it('should keep a provider listed after a +10 min step, and not past its TTL after a −1 h step', async () => {
    const [a, b] = await cluster.start(2)
    const cid = (await b!.content.add(randomBytes(1000))).cidObject
    const entryOfB = (): { expiresInMs: number } | undefined => a!.content.providers(cid).find((p) => p.peer === b!.node.nodeId)
    await waitFor(() => entryOfB() !== undefined, 30_000, 'b known to a as a provider')

    wallStepMs = 10 * MINUTE_MS
    const afterForwardStep = entryOfB()
    wallStepMs = -60 * MINUTE_MS
    const afterBackwardStep = entryOfB()
    wallStepMs = 0

    expect(afterForwardStep).toBeDefined()
    expect(afterForwardStep!.expiresInMs).toBeGreaterThan(0)
    expect(afterBackwardStep).toBeDefined()
    expect(afterBackwardStep!.expiresInMs).toBeLessThanOrEqual(PROVIDER_TTL_MS)
  })
})
