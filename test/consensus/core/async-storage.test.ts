/**
 * Asynchronous storage writes (RawNode `asyncStorageWrites`): a Ready is acknowledged in two steps,
 * advanceIssued() then persisted(ticket), with other input stepped in between. What must hold: nothing
 * counts toward commit or an election before it is durable on the node that counts it, and committed
 * entries (durable on a majority) are applied once written locally, without waiting for the local flush,
 * but never before they are written. Each case fails if the core counted an unflushed write, or made
 * an answer wait for a flush the majority did not need.
 */
import { describe, expect, it } from 'vitest'
import { RawNode, createPrng, EntryType, MessageType } from '../../../src/consensus/core/index.js'
import type { Entry, Message, PersistTicket } from '../../../src/consensus/core/index.js'
import { RaftLog } from '../../../src/consensus/core/log.js'
import { bytes, conf } from './harness.js'

const empty = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }

/** One node driven as the async contract says; `diskStuck` keeps its flush from ever completing. */
class AsyncNode {
  readonly node: RawNode
  readonly applied: Entry[] = []
  pending: Array<{ ticket: PersistTicket, after: Message[] }> = []
  diskStuck = false
  up = true

  constructor (readonly id: string, voters: string[], seed: number) {
    this.node = new RawNode({ id, electionTicks: 10, heartbeatTicks: 1, random: createPrng(seed), asyncStorageWrites: true },
      empty, conf(voters))
  }

  /** Handles every Ready: sends what may go before persisting, applies, issues the writes. */
  drain (out: Message[]): void {
    while (this.node.hasReady()) {
      const rd = this.node.ready()
      out.push(...rd.messages)
      for (const e of rd.committedEntries) this.applied.push(e)
      this.pending.push({ ticket: this.node.advanceIssued(), after: rd.messagesAfterPersist })
    }
  }

  /** The flush completed: acknowledge every issued Ready in order and release its messages. */
  flush (out: Message[]): void {
    if (this.diskStuck) return
    for (const p of this.pending) {
      this.node.persisted(p.ticket)
      out.push(...p.after)
    }
    this.pending = []
  }

  appliedData (): string[] {
    return this.applied.filter((e) => e.type === EntryType.Normal).map((e) => new TextDecoder().decode(e.data))
  }
}

class AsyncCluster {
  readonly nodes = new Map<string, AsyncNode>()
  queue: Message[] = []

  constructor (ids: string[]) {
    ids.forEach((id, i) => this.nodes.set(id, new AsyncNode(id, ids, i + 1)))
  }

  get (id: string): AsyncNode {
    const n = this.nodes.get(id)
    if (n === undefined) throw new Error(`no node ${id}`)
    return n
  }

  /** Drains, flushes (unless stuck) and delivers until nothing moves. */
  stabilize (): void {
    for (let round = 0; round < 100; round++) {
      for (const n of this.nodes.values()) {
        if (!n.up) continue
        n.drain(this.queue)
        n.flush(this.queue)
        n.drain(this.queue)
      }
      if (this.queue.length === 0) return
      const batch = this.queue
      this.queue = []
      for (const m of batch) {
        const to = this.nodes.get(m.to)
        if (to?.up === true) to.node.step(m)
      }
    }
    throw new Error('no quiescence after 100 rounds')
  }

  elect (id: string): void {
    this.get(id).node.campaign()
    this.stabilize()
    expect(this.get(id).node.status().role).toBe('leader')
  }
}

describe('RawNode with asynchronous storage writes', () => {
  it('should not commit when the leader has not flushed its own append and only one follower acks', () => {
    const c = new AsyncCluster(['a', 'b', 'c'])
    c.elect('a')
    const a = c.get('a')
    const before = a.node.status().commit
    c.get('c').up = false
    a.diskStuck = true
    a.node.propose(bytes('x'))
    c.stabilize()
    // b holds x durably and acked it; a sent x before flushing it but must not count itself yet.
    expect(c.get('b').node.status().lastIndex).toBe(before + 1)
    expect(a.node.status().progress?.b?.match).toBe(before + 1)
    expect(a.node.status().commit).toBe(before)
    expect(a.appliedData()).toEqual([])
    a.diskStuck = false
    c.stabilize()
    expect(a.node.status().commit).toBe(before + 1)
    expect(a.appliedData()).toEqual(['x'])
  })

  it('should commit and apply without the leader\'s flush when two followers ack', () => {
    const c = new AsyncCluster(['a', 'b', 'c'])
    c.elect('a')
    const a = c.get('a')
    a.diskStuck = true
    a.node.propose(bytes('y'))
    c.stabilize()
    // A majority (b, c) holds y durably: it is committed, and a applies (answers) it while its own flush
    // hangs (thesis §10.2.1); a still does not count itself toward it.
    expect(a.node.status().commit).toBe(a.node.status().lastIndex)
    expect(a.appliedData()).toEqual(['y'])
    expect(a.pending.length).toBeGreaterThan(0)
    a.diskStuck = false
    c.stabilize()
    expect(a.appliedData()).toEqual(['y'])
  })

  it('should apply committed entries on a follower before its own flush ends, and ack only after it', () => {
    const c = new AsyncCluster(['a', 'b', 'c'])
    c.elect('a')
    const b = c.get('b')
    b.diskStuck = true
    c.get('a').node.propose(bytes('z'))
    c.stabilize()
    c.get('a').node.propose(bytes('w'))
    c.stabilize()
    // a and c hold z and w durably: committed. b wrote both (unflushed) and applies what it learns is
    // committed, but its acknowledgement still waits for its flush.
    expect(b.node.status().commit).toBe(c.get('a').node.status().commit)
    expect(b.appliedData()).toEqual(['z', 'w'])
    expect(c.get('a').node.status().progress?.b?.match).toBeLessThan(c.get('a').node.status().lastIndex)
    b.diskStuck = false
    c.stabilize()
    expect(c.get('a').node.status().progress?.b?.match).toBe(c.get('a').node.status().lastIndex)
  })

  it('should not hand out a committed entry to apply before a Ready has issued its write', () => {
    const c = new AsyncCluster(['a', 'b', 'c'])
    c.elect('a')
    const a = c.get('a')
    const b = c.get('b')
    b.up = false
    a.node.propose(bytes('u'))
    c.stabilize() // a and c commit u; b heard nothing
    const index = a.node.status().lastIndex
    expect(a.node.status().commit).toBe(index)
    b.up = true
    // The next heartbeat brings b back; the leader probes and then sends the entry with its commit index.
    const out: Message[] = []
    a.node.tick()
    let app: Message | undefined
    for (let round = 0; round < 10 && app === undefined; round++) {
      a.drain(out)
      const toB = out.splice(0).filter((m) => m.to === 'b')
      app = toB.find((m) => m.type === MessageType.App && m.entries.some((e) => e.index === index))
      if (app !== undefined) break
      for (const m of toB) b.node.step(m)
      b.drain(out)
      b.flush(out)
      for (const m of out.splice(0)) if (m.to === 'a') a.node.step(m)
    }
    expect(app?.commit).toBe(index)
    b.node.step(app!)
    const first = b.node.ready()
    expect(first.entries.map((e) => e.index)).toContain(index)
    expect(first.committedEntries.map((e) => e.index)).not.toContain(index)
    b.node.advanceIssued()
    expect(b.node.ready().committedEntries.map((e) => e.index)).toContain(index)
  })

  it('should not win an election on its own vote before the vote is durable', () => {
    const c = new AsyncCluster(['a', 'b', 'c'])
    const a = c.get('a')
    c.get('c').up = false
    a.diskStuck = true
    a.node.campaign()
    c.stabilize()
    // b granted its (durable) vote; a's own vote for term t is not durable, so 1 of 3 is no majority.
    expect(a.node.status().role).toBe('candidate')
    a.diskStuck = false
    c.stabilize()
    expect(a.node.status().role).toBe('leader')
  })

  it('should hold a follower\'s append acknowledgement until the append is persisted', () => {
    const c = new AsyncCluster(['a', 'b', 'c'])
    c.elect('a')
    const b = c.get('b')
    b.diskStuck = true
    c.get('a').node.propose(bytes('v'))
    c.stabilize()
    expect(b.pending.flatMap((p) => p.after).some((m) => m.type === MessageType.AppResp && m.to === 'a')).toBe(true)
    expect(c.get('a').node.status().progress?.b?.match).toBeLessThan(c.get('a').node.status().lastIndex)
  })

  it('should assert when tickets are persisted out of order', () => {
    const n = new AsyncNode('a', ['a'], 1)
    n.node.campaign()
    const out: Message[] = []
    n.drain(out)
    n.flush(out) // its own vote is durable: it leads
    n.drain(out)
    expect(n.node.status().role).toBe('leader')
    n.node.propose(bytes('p'))
    n.drain(out)
    expect(n.pending.length).toBeGreaterThanOrEqual(2)
    expect(() => n.node.persisted(n.pending[1]!.ticket)).toThrow(expect.objectContaining({ name: 'AssertionError' }))
  })
})

describe('RaftLog.markDurable', () => {
  const entry = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(0) })

  it('should not mark entries durable when a later write overwrote them with another term', () => {
    const log = new RaftLog()
    log.append([entry(1, 1), entry(2, 1), entry(3, 1)])
    log.stableIndex = 3 // handed out to storage, not yet durable
    log.append([entry(2, 2)]) // a new leader overwrites from 2 before the first write is flushed
    log.stableIndex = 2
    log.markDurable(3, 1) // the first write's ticket comes back
    log.markDurable(2, 1)
    expect(log.durableIndex).toBe(0)
    log.markDurable(2, 2)
    expect(log.durableIndex).toBe(2)
  })

  it('should mark the prefix durable when the entry at the ticket\'s index is unchanged', () => {
    const log = new RaftLog()
    log.append([entry(1, 1), entry(2, 1)])
    log.stableIndex = 2
    log.markDurable(2, 1)
    expect(log.durableIndex).toBe(2)
  })
})
