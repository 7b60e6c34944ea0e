/**
 * Raft-paper rules built message by message on the harness: §5.4.2 / Figure 8 (a leader must not
 * commit an entry of an earlier term by counting replicas) and §5.3 log matching (a follower must
 * reject an append whose previous entry does not match). With the planted bugs
 * `commitOldTermByCounting` and `acceptMismatchedEntries` the same schedules must end in a safety
 * violation, which proves each test can fail.
 */
import { describe, expect, it } from 'vitest'
import { MessageType } from '../../../src/consensus/core/index.js'
import type { Message } from '../../../src/consensus/core/index.js'
import { Cluster, bytes } from './harness.js'

const ROUNDS_MAX = 200

/** The network of Figure 8 (c): a's term-3 entry at index 3 never reaches anyone. */
function stripIndex3 (m: Message): Message {
  return m.type === MessageType.App ? { ...m, entries: m.entries.filter((e) => e.index < 3) } : m
}

/** Processes and delivers until quiet, passing every message through `rewrite` first. */
function settle (c: Cluster, rewrite: (m: Message) => Message = (m) => m): void {
  for (let round = 0; round < ROUNDS_MAX; round++) {
    let moved = false
    for (const id of c.nodes.keys()) if (c.process(id)) moved = true
    c.queue = c.queue.map(rewrite)
    if (c.deliver() > 0) moved = true
    if (!moved) return
  }
  throw new Error('did not settle')
}

function campaignUntilLeader (c: Cluster, id: string, rewrite?: (m: Message) => Message): void {
  for (let attempt = 0; attempt < 5; attempt++) {
    c.get(id).node.campaign()
    settle(c, rewrite)
    if (c.get(id).node.status().role === 'leader') return
  }
  throw new Error(`${id} could not win`)
}

function figure8 (commitOldTermByCounting: boolean): Cluster {
  const c = new Cluster({
    voters: ['a', 'b', 'c', 'd', 'e'],
    config: { preVote: false, checkQuorum: false, maxSizePerMsgBytes: 1, testingBugs: { commitOldTermByCounting } }
  })
  c.elect('a')
  // (a) a (term 1) replicates x at index 2 to b only.
  for (const other of ['c', 'd', 'e']) { c.cut.add(`a->${other}`); c.cut.add(`${other}->a`) }
  c.get('a').node.propose(bytes('x'))
  settle(c)
  expect(c.get('b').node.entries(2, 3)[0]?.term).toBe(1)
  // (b) e wins term 2 with c and d, and its empty entry at index 2 stays on e alone.
  c.isolate('a')
  c.get('e').node.campaign()
  for (let round = 0; round < ROUNDS_MAX && c.get('e').node.status().role !== 'leader'; round++) {
    for (const id of c.nodes.keys()) c.process(id)
    c.deliver()
  }
  expect(c.get('e').node.status().role).toBe('leader')
  c.isolate('e')
  settle(c)
  // (c) a wins term 3 with b, c, d and replicates index 2 (term 1) to a majority, while its own
  // term-3 entry at index 3 never leaves a (the network strips it from every App).
  // a restarts (it never learned it was deposed) so that it campaigns from its durable state.
  c.heal()
  c.isolate('e')
  c.restart('a', c.genesis)
  campaignUntilLeader(c, 'a', stripIndex3)
  for (let i = 0; i < 3; i++) { c.tick('a'); settle(c, stripIndex3) }
  for (const id of ['a', 'b', 'c', 'd']) expect(c.get(id).node.entries(2, 3)[0]?.term, id).toBe(1)
  return c
}

describe('RawNode commit rule (Figure 8)', () => {
  it('should not commit an old-term entry by counting replicas when it is on a majority', () => {
    const c = figure8(false)
    expect(c.get('a').node.status().commit).toBe(1)
    // (d) e may now win term 4 and overwrite index 2: safe, because index 2 was never committed.
    c.heal()
    c.isolate('a')
    c.restart('e', c.genesis)
    campaignUntilLeader(c, 'e')
    settle(c)
    for (const id of ['b', 'c', 'd', 'e']) expect(c.get(id).node.entries(2, 3)[0]?.term, id).toBe(2)
  })

  it('should end in a safety violation when the planted bug commits by counting', () => {
    const c = figure8(true)
    expect(c.get('a').node.status().commit).toBe(2)
    expect(() => {
      // The heartbeat tells b, c and d that index 2 is committed; index 3 still never leaves a.
      c.tick('a')
      settle(c, stripIndex3)
      c.heal()
      c.isolate('a')
      c.restart('e', c.genesis)
      campaignUntilLeader(c, 'e')
      settle(c)
    }).toThrow(/committed|state machine safety/)
  })
})

/**
 * Log matching (§5.3): an old leader a holds a divergent suffix longer than the new leader's log. A
 * newer leader whose first probe lands inside that suffix must be rejected and back off; with the
 * planted bug `acceptMismatchedEntries` a keeps its stale entries under the leader's and applies them.
 */
function divergentSuffix (acceptMismatchedEntries: boolean): Cluster {
  const c = new Cluster({ voters: ['a', 'b', 'c'], config: { testingBugs: { acceptMismatchedEntries } } })
  c.elect('a')
  c.isolate('a')
  for (const data of ['x1', 'x2', 'x3']) c.get('a').node.propose(bytes(data))
  c.stabilize()
  c.tick('c', 10)
  campaignUntilLeader(c, 'b')
  c.get('b').node.propose(bytes('y'))
  settle(c)
  // A second election gives the new leader (c) a probe start beyond where a diverges.
  c.get('b').node.transferLeadership('c')
  settle(c)
  expect(c.get('c').node.status().role).toBe('leader')
  c.heal()
  for (let i = 0; i < 3; i++) { c.tick('c'); settle(c) }
  return c
}

describe('RawNode log matching', () => {
  it('should replace a divergent suffix when the leader probes inside it', () => {
    const c = divergentSuffix(false)
    expect(c.get('a').state).toEqual(['y'])
    expect(c.get('a').node.entries(1, 10).map((e) => e.term)).toEqual(c.get('c').node.entries(1, 10).map((e) => e.term))
  })

  it('should end in a safety violation when the planted bug accepts mismatched entries', () => {
    expect(() => divergentSuffix(true)).toThrow(/state machine safety|committed/)
  })
})

