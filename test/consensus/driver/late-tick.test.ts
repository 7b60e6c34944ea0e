/**
 * Goal: after a stall of the process (a starved CPU), the Raft tick runs behind the input that waited
 * meanwhile, never before it (issue 16: on a saturated 2-core machine the timer phase ran first after each
 * stall, so a leader judged check-quorum before reading its followers' answers and stepped down). Method:
 * an injected monotonic clock and the driver's tick handler called directly; the core's tick is observed.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import { MemoryStorage } from '../sim/memory-storage-shim.js'
import { KvMachine, silentLogger } from './harness.js'

const TICK_MS = 100

describe('late ticks', () => {
  const nodes: RaftNode<unknown>[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.stop() })

  it('should run an on-time tick at once and a late one only after the input already waiting', async () => {
    let now = 0
    const node = new RaftNode<unknown>({
      id: 'a', tickMs: TICK_MS, electionTicks: 10, heartbeatTicks: 1, bootstrap: true, retryIntervalMs: 50, operationTimeoutMs: 5_000
    }, {
      storage: new MemoryStorage(),
      transport: { send: () => {}, setHandler: () => {} },
      stateMachine: new KvMachine(),
      logger: silentLogger,
      monotonicMs: () => now,
      // The test is the only clock: no interval adds ticks of its own.
      ticker: { every: () => () => {} }
    })
    node.start()
    nodes.push(node)
    // White-box: the core's tick and the driver's timer callback.
    const inner = node as unknown as { raw: { tick: () => void }, onTick: () => void }
    const order: string[] = []
    const tick = inner.raw.tick.bind(inner.raw)
    inner.raw.tick = () => { order.push('tick'); tick() }
    const fire = (): void => { inner.onTick() }

    now += TICK_MS; fire()
    now += TICK_MS; fire()
    expect(order).toEqual(['tick', 'tick'])

    // A 3 s stall: the timer fires once, first; the input read in the same loop turn comes after it.
    now += 3000; fire()
    order.push('input read in the poll phase')
    await new Promise((resolve) => setImmediate(resolve))
    expect(order).toEqual(['tick', 'tick', 'input read in the poll phase', 'tick'])

    // Back on time: at once again.
    now += TICK_MS; fire()
    expect(order.at(-1)).toBe('tick')
    expect(order).toHaveLength(5)
  })
})
