/**
 * RawNode unit behaviour: config validation, the Ready persistence ordering, dropping bad network
 * input, flow control, chunked snapshots, and refusals. Each case would break on a specific bug.
 */
import { describe, expect, it } from 'vitest'
import { MessageType, RawNode, createPrng } from '../../../src/consensus/core/index.js'
import type { Message } from '../../../src/consensus/core/index.js'
import { Cluster, bytes, conf } from './harness.js'

const empty = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }

function voteRequest (to: string): Message {
  return {
    type: MessageType.Vote, from: 'b', to, term: 5, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0
  }
}

describe('RawNode', () => {
  it('should throw InvalidRaftConfigError when electionTicks <= heartbeatTicks', () => {
    expect(() => new RawNode({ id: 'a', electionTicks: 2, heartbeatTicks: 2, random: createPrng(1) }, empty, conf(['a'])))
      .toThrow(expect.objectContaining({ name: 'InvalidRaftConfigError' }))
  })

  it('should draw the same election timeouts when seeded the same', () => {
    const a = createPrng(9); const b = createPrng(9)
    const draws = Array.from({ length: 50 }, () => [a.nextInt(1000), b.nextInt(1000)])
    for (const [x, y] of draws) expect(x).toBe(y)
    expect(new Set(draws.map(([x]) => x)).size).toBeGreaterThan(40)
  })

  it('should send a vote only after persisting when a vote is granted', () => {
    const node = new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: createPrng(1) }, empty, conf(['a', 'b', 'c']))
    node.step(voteRequest('a'))
    const rd = node.ready()
    expect(rd.hardState).toEqual({ term: 5, vote: 'b', commit: 0 })
    expect(rd.mustSync).toBe(true)
    expect(rd.messages).toEqual([])
    expect(rd.messagesAfterPersist.map((m) => [m.type, m.reject])).toEqual([[MessageType.VoteResp, false]])
    node.advance()
  })

  it('should send the vote before persisting when the voteBeforePersist bug is planted', () => {
    const node = new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: createPrng(1), testingBugs: { voteBeforePersist: true } },
      empty, conf(['a', 'b', 'c']))
    node.step(voteRequest('a'))
    expect(node.ready().messages.map((m) => m.type)).toEqual([MessageType.VoteResp])
  })

  it('should drop and count a message when it is malformed or misaddressed', () => {
    const node = new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: createPrng(1) }, empty, conf(['a', 'b', 'c']))
    node.step({ ...voteRequest('a'), term: -1 })
    node.step(voteRequest('z'))
    node.step({ ...voteRequest('a'), type: 'bogus' as MessageType })
    node.step({ ...voteRequest('a'), type: MessageType.Hup })
    expect(node.status().droppedMessages).toBe(4)
    expect(node.status().term).toBe(0)
  })

  it('should assert when input arrives between ready() and advance()', () => {
    const node = new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: createPrng(1) }, empty, conf(['a']))
    node.campaign()
    node.ready()
    expect(() => node.tick()).toThrow(expect.objectContaining({ name: 'AssertionError' }))
  })

  it('should throw ProposalDroppedError when no leader is known', () => {
    const node = new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: createPrng(1) }, empty, conf(['a', 'b', 'c']))
    expect(() => node.propose(bytes('x'))).toThrow(expect.objectContaining({ name: 'ProposalDroppedError' }))
    expect(() => node.readIndex(bytes('r'))).toThrow(expect.objectContaining({ name: 'ProposalDroppedError' }))
  })

  it('should refuse proposals when uncommitted bytes exceed the limit', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'], config: { maxUncommittedEntriesBytes: 10 } })
    c.elect('a')
    c.isolate('a')
    c.get('a').node.propose(new Uint8Array(8))
    expect(() => c.get('a').node.propose(new Uint8Array(8))).toThrow(expect.objectContaining({ name: 'ProposalDroppedError' }))
  })

  it('should keep at most maxInflightMsgs appends in flight when a follower does not answer', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'], config: { maxInflightMsgs: 3, maxSizePerMsgBytes: 1 } })
    c.elect('a')
    c.queue = []
    for (let i = 0; i < 10; i++) c.get('a').node.propose(bytes(`p${i}`))
    c.process('a')
    const appsToB = c.queue.filter((m) => m.type === MessageType.App && m.to === 'b')
    expect(appsToB.length).toBe(3)
    expect(appsToB.every((m) => m.entries.length === 1)).toBe(true)
  })

  it('should send a snapshot in chunks of snapshotChunkBytes when a follower is behind the compacted log', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'], config: { snapshotChunkBytes: 10 } })
    c.elect('a')
    c.isolate('c')
    for (let i = 0; i < 5; i++) c.get('a').node.propose(bytes(`entry-${i}`))
    c.stabilize()
    c.compact('a')
    c.heal()
    c.tick('a')
    const chunks: Message[] = []
    for (let round = 0; round < 20; round++) {
      for (const id of c.nodes.keys()) c.process(id)
      chunks.push(...c.queue.filter((m) => m.type === MessageType.Snap))
      c.deliver()
    }
    const size = c.get('a').store.snapshot?.data.length ?? 0
    expect(chunks.length).toBe(Math.ceil(size / 10))
    expect(chunks.map((m) => m.snapshotOffset)).toEqual(chunks.map((_, i) => i * 10))
    expect(chunks.at(-1)?.snapshotDone).toBe(true)
    c.stabilize()
    expect(c.get('c').state).toEqual(c.get('a').state)
  })

  it('should hold a read until the leader commits in its term when it was just elected', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.get('a').node.campaign()
    for (let i = 0; i < 6 && c.get('a').node.status().role !== 'leader'; i++) {
      for (const id of c.nodes.keys()) c.process(id)
      c.deliver()
    }
    expect(c.get('a').node.status().role).toBe('leader')
    expect(c.get('a').node.status().commit).toBe(0)
    c.get('a').node.readIndex(bytes('early'))
    c.process('a')
    expect(c.get('a').readStates).toEqual([])
    c.stabilize()
    expect(c.get('a').readStates.map((r) => r.index)).toEqual([1])
  })

  it('should never start an election when it was removed from the configuration', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    c.get('a').node.proposeConfChange({ steps: [{ type: 'remove', nodeId: 'c' }], transition: 'auto' })
    c.stabilize()
    expect(c.get('c').conf.voters).toEqual(['a', 'b'])
    c.isolate('c')
    c.tick('c', 100)
    c.stabilize()
    expect(c.get('c').node.status().role).toBe('follower')
    expect(() => c.get('a').node.proposeConfChange({ steps: [], transition: 'auto' }))
      .toThrow(expect.objectContaining({ name: 'ConfChangeRejectedError' }))
  })

  it('should refuse a second conf change when the first is not yet applied', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    c.get('a').node.proposeConfChange({ steps: [{ type: 'add-learner', nodeId: 'd' }], transition: 'auto' })
    expect(() => c.get('a').node.proposeConfChange({ steps: [{ type: 'add-learner', nodeId: 'e' }], transition: 'auto' }))
      .toThrow(expect.objectContaining({ name: 'ConfChangeRejectedError' }))
  })

  it('should refuse proposals and still let the others elect when the leader appended its own removal', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    c.get('a').node.proposeConfChange({ steps: [{ type: 'remove', nodeId: 'a' }], transition: 'auto' })
    expect(() => c.get('a').node.propose(bytes('late'))).toThrow(expect.objectContaining({ name: 'ProposalDroppedError' }))
    c.stabilize()
    // a crashes right after applying its removal, before any hand-off completes.
    c.restart('a', c.genesis)
    for (let i = 0; i < 40 && c.leaders().filter((id) => id !== 'a').length === 0; i++) {
      c.tickAll()
      c.stabilize()
    }
    expect(c.leaders().filter((id) => id !== 'a')).toHaveLength(1)
    expect(c.get('a').node.status().role).not.toBe('leader')
  })
})
