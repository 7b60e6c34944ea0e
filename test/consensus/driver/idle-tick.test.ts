/**
 * Goal: a tick that changes nothing costs no extra turn of the event loop (issue 16: an idle node's CPU is
 * mostly wake-ups; every Raft tick used to schedule a batch with `setImmediate` whether or not the core had
 * anything to hand out), while a tick that does produce work (a heartbeat round, an election) still gets its
 * batch. Method: the driver ticked by hand through an injected ticker, `setImmediate` counted around it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { Message } from '../../../src/consensus/core/index.js'
import { MemoryStorage } from '../sim/memory-storage-shim.js'
import { KvMachine, put, silentLogger, waitUntil } from './harness.js'

describe('idle ticks', () => {
  const nodes: RaftNode<unknown>[] = []
  afterEach(() => {
    vi.restoreAllMocks()
    for (const node of nodes.splice(0)) node.stop()
  })

  function lone (sent: Message[]): { node: RaftNode<unknown>, tick: () => void, periods: number[] } {
    let run: (() => void) | undefined
    const periods: number[] = []
    const node = new RaftNode<unknown>({
      id: 'a', tickMs: 100, electionTicks: 10, heartbeatTicks: 1, bootstrap: true, retryIntervalMs: 50, operationTimeoutMs: 5_000
    }, {
      storage: new MemoryStorage(),
      transport: { send: (m) => { sent.push(m) }, setHandler: () => {} },
      stateMachine: new KvMachine(),
      logger: silentLogger,
      ticker: { every: (periodMs, duty) => { periods.push(periodMs); run = duty; return () => { run = undefined } } }
    })
    node.start()
    nodes.push(node)
    return { node, tick: () => { run?.() }, periods }
  }

  it('should drive its tick from the injected ticker at tickMs and schedule no batch for ticks that change nothing', async () => {
    const { node, tick, periods } = lone([])
    expect(periods).toEqual([100])
    // A lone voter elects itself within an election timeout of ticks; its batches run meanwhile.
    for (let i = 0; i < 30 && !node.isLeader(); i++) {
      tick()
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(node.isLeader()).toBe(true)
    // The new leader's own entry is written and flushed (a batch of its own) before the idle ticks counted.
    await waitUntil(() => { const s = node.status(); return s.commit === s.lastIndex && s.applied === s.commit }, 5_000, 'leader entry applied')
    await new Promise((resolve) => setTimeout(resolve, 10))
    const immediate = vi.spyOn(globalThis, 'setImmediate')
    // One tick per turn of the event loop, as the ticker gives them (a batch scheduled by one would run
    // before the next).
    for (let i = 0; i < 100; i++) {
      tick()
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    // A lone leader's heartbeat round sends nothing: 100 ticks, no batch.
    expect(immediate).toHaveBeenCalledTimes(0)
  })

  it('should still schedule a batch for a tick that hands out work', async () => {
    // A lone leader with a learner b that never answers: heartbeat rounds toward b are work, and only a
    // batch sends them.
    const sent: Message[] = []
    const { node, tick } = lone(sent)
    for (let i = 0; i < 30 && !node.isLeader(); i++) {
      tick()
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(node.isLeader()).toBe(true)
    await node.propose(put('learner', 'b'), { confChange: { steps: [{ type: 'add-learner', nodeId: 'b' }], transition: 'auto' } })
    await new Promise((resolve) => setImmediate(resolve))
    sent.length = 0
    const immediate = vi.spyOn(globalThis, 'setImmediate')
    for (let i = 0; i < 20; i++) {
      tick()
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    expect(immediate.mock.calls.length).toBeGreaterThan(0)
    vi.restoreAllMocks()
    await new Promise((resolve) => setImmediate(resolve))
    expect(sent.some((m) => m.to === 'b')).toBe(true)
  })
})
