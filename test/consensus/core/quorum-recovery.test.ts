/**
 * Quorum recovery (`revoada recover-quorum`): a voter whose other voters are gone for good elects itself and
 * commits alone, keeping its log; a voter added meanwhile counts as usual, and once the lost voters have left
 * the configuration, quorums are the configuration's again.
 */
import { describe, expect, it } from 'vitest'
import { EntryType } from '../../../src/consensus/core/index.js'
import type { ConfChange } from '../../../src/consensus/core/index.js'
import { Cluster, bytes } from './harness.js'

/** Voters a, b, c and learner d with three commands committed under leader a; then a and b are gone. */
function survivorOfThree (): Cluster {
  const cluster = new Cluster({ voters: ['a', 'b', 'c'], learners: ['d'] })
  cluster.elect('a')
  for (const text of ['one', 'two', 'three']) cluster.get('a').node.propose(bytes(text))
  cluster.stabilize()
  expect(cluster.get('c').state).toEqual(['one', 'two', 'three'])
  cluster.isolate('a')
  cluster.isolate('b')
  return cluster
}

/**
 * With a and b lost, c's proposal `text` commits only once d, cut off meanwhile, is back: d counts in c's
 * quorum. (A heartbeat reaches d, which asks for what it lacks.)
 */
function expectCommitNeedsD (cluster: Cluster, text: string): void {
  const c = cluster.get('c')
  cluster.isolate('d')
  const commit = c.node.status().commit
  proposeAt(cluster, 'c', text)
  expect(c.node.status().commit).toBe(commit)
  cluster.heal()
  cluster.isolate('a')
  cluster.isolate('b')
  cluster.tick('c', 2)
  cluster.stabilize()
  expect(c.node.status().commit).toBeGreaterThan(commit)
  expect(cluster.get('d').state.at(-1)).toBe(text)
}

const proposeAt = (cluster: Cluster, id: string, text: string): void => { cluster.get(id).node.propose(bytes(text)); cluster.stabilize() }
const changeAt = (cluster: Cluster, id: string, cc: ConfChange): void => { cluster.get(id).node.proposeConfChange(cc); cluster.stabilize() }

describe('quorum recovery', () => {
  it('should let the surviving voter lead and commit alone, keeping its log, until the lost voters are out', () => {
    const cluster = survivorOfThree()
    const c = cluster.get('c')
    // Without recovery the survivor cannot win an election: a and b never answer.
    cluster.elect('c')
    expect(c.node.status().role).not.toBe('leader')

    expect(c.node.recoverAsSoleVoter()).toEqual(['a', 'b'])
    expect(c.node.recovery()).toEqual({ lostVoters: ['a', 'b'] })
    cluster.elect('c')
    expect(c.node.status().role).toBe('leader')
    expect(c.node.recovery()).toEqual({ lostVoters: ['a', 'b'] })
    proposeAt(cluster, 'c', 'four')
    // Committed with c's own acknowledgement only, applied on c and on the learner, after what c held.
    expect(c.state).toEqual(['one', 'two', 'three', 'four'])
    expect(cluster.get('d').state).toEqual(['one', 'two', 'three', 'four'])

    // The lost voters leave in one joint change, committed (and left) by c alone.
    changeAt(cluster, 'c', { steps: [{ type: 'remove', nodeId: 'a' }, { type: 'remove', nodeId: 'b' }], transition: 'auto' })
    expect(c.node.status().confState.voters).toEqual(['c'])
    expect(c.node.status().confState.votersOutgoing).toEqual([])
    expect(c.node.recovery()).toBeUndefined()

    // From here on a quorum is the configuration's: with d a voter, nothing commits without d.
    changeAt(cluster, 'c', { steps: [{ type: 'add-voter', nodeId: 'd' }], transition: 'auto' })
    expect(c.node.status().confState.voters.sort()).toEqual(['c', 'd'])
    expectCommitNeedsD(cluster, 'five')
  })

  it('should neither send to nor hear from a lost voter that runs after all, also once the recovery ends, and reach it from a snapshot after a restart', () => {
    const cluster = survivorOfThree()
    const c = cluster.get('c')
    const a = cluster.get('a')
    c.node.recoverAsSoleVoter()
    cluster.elect('c')
    // a was counted lost, yet runs: the operator did not stop it (it was a learner everywhere but in c's tail, say).
    cluster.heal()
    cluster.isolate('b')
    const aLast = a.node.status().lastIndex
    const sent: string[] = []
    const spy = (m: { from: string, to: string }): boolean => { sent.push(`${m.from}->${m.to}`); return true }
    c.node.propose(bytes('four'))
    for (let round = 0; round < 20; round++) {
      cluster.tickAll()
      for (const id of cluster.nodes.keys()) cluster.process(id)
      cluster.deliver(spy)
    }
    expect(c.state.at(-1)).toBe('four')
    expect(cluster.get('d').state.at(-1)).toBe('four')
    // Nothing went from c to a, so a holds nothing c appended (it may learn c's term from d: harmless).
    expect(sent.filter((hop) => hop === 'c->a')).toEqual([])
    expect(a.node.status().lastIndex).toBe(aLast)
    // What a sends c drops (a campaigns: it hears no leader).
    expect(sent.filter((hop) => hop === 'a->c').length).toBeGreaterThan(0)
    expect(c.node.status().droppedMessages).toBeGreaterThan(0)
    expect(c.node.status().role).toBe('leader')

    // The lost voters leave as learners (the product demotes them) and the recovery ends; a stays cut off while
    // this core runs. The product's run then snapshots, keeping no entry, and stops; started again, c hands a the
    // outcome as a snapshot, so a never applies the configurations between.
    changeAt(cluster, 'c', { steps: [{ type: 'add-learner', nodeId: 'a' }, { type: 'add-learner', nodeId: 'b' }], transition: 'auto' })
    expect(c.node.recovery()).toBeUndefined()
    cluster.tick('c', 2)
    cluster.stabilize()
    expect(a.node.status().lastIndex).toBe(aLast)
    cluster.compact('c', 0)
    const end = c.node.status().applied
    cluster.restart('c', cluster.genesis)
    cluster.elect('c')
    cluster.tick('c', 2)
    cluster.stabilize()
    expect(a.state.at(-1)).toBe('four')
    expect(a.store.snapshot?.meta.index).toBe(end)
    expect(a.node.status().confState.voters).toEqual(['c'])
  })

  it('should count a voter added during recovery as usual', () => {
    const cluster = survivorOfThree()
    const c = cluster.get('c')
    c.node.recoverAsSoleVoter()
    cluster.elect('c')
    changeAt(cluster, 'c', { steps: [{ type: 'add-voter', nodeId: 'd' }], transition: 'auto' })
    expect(c.node.status().confState.voters.sort()).toEqual(['a', 'b', 'c', 'd'])
    expect(c.node.recovery()).toEqual({ lostVoters: ['a', 'b'] })
    cluster.isolate('d')
    const commit = c.node.status().commit
    proposeAt(cluster, 'c', 'without d')
    expect(c.node.status().commit).toBe(commit)
    expect(c.node.entries(commit + 1, commit + 2)[0]?.type).toBe(EntryType.Normal)
  })

  it.each(['add-learner', 'remove'] as const)('should commit a tail change that took the survivor out (%s), keep leading, and end only once it is a voter again', (exit) => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], learners: ['d'] })
    cluster.elect('a')
    proposeAt(cluster, 'a', 'one')
    // a proposes to swap c for d; c and d append it, but c's acknowledgement never reaches a: it stays uncommitted.
    cluster.isolate('b')
    cluster.cut.add('c->a')
    changeAt(cluster, 'a', { steps: [{ type: exit, nodeId: 'c' }, { type: 'add-voter', nodeId: 'd' }], transition: 'auto' })
    const c = cluster.get('c')
    expect(c.node.status().lastIndex).toBeGreaterThan(c.node.status().commit)
    cluster.isolate('a')

    // d, a voter only the tail adds, is lost too: the operator stopped every voter but c.
    expect(c.node.recoverAsSoleVoter()).toEqual(['a', 'b', 'd'])
    cluster.elect('c')
    // The tail commits; c, now out of the voters, keeps leading and recovering.
    expect(c.node.status().confState.voters.sort()).toEqual(['a', 'b', 'd'])
    expect(c.node.status().confState.learners.includes('c')).toBe(exit === 'add-learner')
    expect(c.node.status().role).toBe('leader')
    expect(c.node.recovery()).toEqual({ lostVoters: ['a', 'b', 'd'] })
    cluster.tickAll(30) // no hand-off to d, which could not win without a or b
    cluster.stabilize()
    expect(c.node.status().role).toBe('leader')
    // c's own durable acknowledgement counts: d's commits nothing. c sends its append, d
    // acknowledges it, c crashes before its own write is durable, and resumes the run with its lost set.
    const before = c.node.status().commit
    c.node.propose(bytes('lost in a crash'))
    cluster.queue.push(...c.node.ready().messages)
    c.node.advanceIssued() // its write is issued, never persisted
    cluster.deliver((m) => m.to === 'd')
    cluster.process('d')
    cluster.deliver((m) => m.from === 'd')
    expect(c.node.status().commit).toBe(before)
    cluster.queue = cluster.queue.filter((m) => m.to !== 'c' && m.from !== 'c')
    cluster.restart('c', cluster.genesis)
    cluster.stabilize()
    c.node.recoverAsSoleVoter(['a', 'b', 'd'])
    cluster.elect('c')
    expect(c.node.status().role).toBe('leader')

    // The lost voters leave for e, a new voter; with no lost voter left, c still recovers until it is a voter.
    cluster.addNode('e')
    changeAt(cluster, 'c', { steps: [{ type: 'remove', nodeId: 'a' }, { type: 'remove', nodeId: 'b' }, { type: 'add-learner', nodeId: 'd' }, { type: 'add-voter', nodeId: 'e' }], transition: 'auto' })
    expect(c.node.status().confState.voters).toEqual(['e'])
    expect(c.node.recovery()).toEqual({ lostVoters: ['a', 'b', 'd'] })
    changeAt(cluster, 'c', { steps: [{ type: 'add-voter', nodeId: 'c' }], transition: 'auto' })
    expect(c.node.status().confState.voters.sort()).toEqual(['c', 'e'])
    expect(c.node.recovery()).toBeUndefined()
    proposeAt(cluster, 'c', 'two')
    expect(cluster.get('e').state).toEqual(['one', 'two'])
    // d, counted lost, hears nothing from this core (Raft.cutOff); a start after the run's snapshot reaches it.
    expect(cluster.get('d').state).toEqual(['one'])
    cluster.compact('c', 0)
    cluster.restart('c', cluster.genesis)
    // e's lease on c's first term runs out; c or e leads.
    for (let round = 0; round < 100 && cluster.leaders().length === 0; round++) { cluster.tickAll(); cluster.stabilize() }
    expect(cluster.leaders()).toHaveLength(1)
    expect(cluster.get('d').state).toEqual(['one', 'two'])
  })

  it('should resume an unfinished run with the lost voters it fixed, counting a voter it added', () => {
    const cluster = survivorOfThree()
    const c = cluster.get('c')
    const lost = c.node.recoverAsSoleVoter()
    cluster.elect('c')
    changeAt(cluster, 'c', { steps: [{ type: 'add-voter', nodeId: 'd' }], transition: 'auto' })
    expect(c.node.status().confState.voters.sort()).toEqual(['a', 'b', 'c', 'd'])
    // The run crashes before the lost voters are out, its last append sent to d but not yet durable.
    c.node.propose(bytes('four'))
    cluster.process('c')
    c.store.entries.pop()
    cluster.queue = cluster.queue.filter((m) => m.to !== 'c')
    cluster.restart('c', cluster.genesis)
    cluster.stabilize()
    expect(cluster.get('d').node.status().lastIndex).toBeGreaterThan(c.node.status().lastIndex)
    expect(c.node.recovery()).toBeUndefined()

    // Resumed with its set, d counts: nothing commits without it.
    expect(c.node.recoverAsSoleVoter(lost)).toEqual(['a', 'b'])
    cluster.elect('c') // d refuses its vote (d's log is longer), yet c leads: no node but c can lead meanwhile
    expect(c.node.status().role).toBe('leader')
    expectCommitNeedsD(cluster, 'without d')
  })

  it('should campaign at a term no lost leader used, so a learner drops what a lost leader sent it', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], learners: ['d'] })
    cluster.elect('a')
    proposeAt(cluster, 'a', 'one')
    // c is cut off; b leads a term c never hears of, and its entry reaches the learner d only.
    cluster.isolate('c')
    cluster.get('a').node.transferLeadership('b')
    const b = cluster.get('b')
    for (let round = 0; round < 100 && b.node.status().role !== 'leader'; round++) {
      for (const id of cluster.nodes.keys()) cluster.process(id)
      cluster.deliver()
    }
    expect(b.node.status().role).toBe('leader')
    const term = b.node.status().term
    expect(cluster.get('c').node.status().term).toBeLessThan(term)
    // Nothing b appends reaches a: its entries stay uncommitted.
    cluster.cut.add('b->a')
    proposeAt(cluster, 'b', 'from a lost leader')
    expect(cluster.get('d').node.status().lastTerm).toBe(term)
    expect(cluster.get('d').state).toEqual(['one']) // uncommitted
    // a and b are lost for good; c recovers with d running.
    cluster.heal()
    cluster.isolate('a')
    cluster.isolate('b')
    const c = cluster.get('c')
    c.node.recoverAsSoleVoter()
    cluster.elect('c')
    expect(c.node.status().role).toBe('leader')
    expect(c.node.status().term).toBeGreaterThan(term)
    // The harness fails "state machine safety" if d applies b's entry where c committed another one.
    proposeAt(cluster, 'c', 'two')
    cluster.tick('c', 2)
    cluster.stabilize()
    console.log('DBG', JSON.stringify(c.node.status()), JSON.stringify(cluster.get('d').node.status()), JSON.stringify(cluster.get('d').store.snapshot?.meta))
    expect(cluster.get('d').state).toEqual(['one', 'two'])
  })

  it('should end at once on a node that is already the only voter', () => {
    const cluster = new Cluster({ voters: ['a'], learners: ['d'] })
    const a = cluster.get('a')
    a.node.recoverAsSoleVoter()
    cluster.elect('a')
    expect(a.node.status().role).toBe('leader')
    expect(a.node.recovery()).toBeUndefined()
    // Called on a node that already leads, it ends there and then.
    a.node.recoverAsSoleVoter()
    expect(a.node.recovery()).toBeUndefined()
  })

  it('should refuse to recover on a node that is not a voter', () => {
    const cluster = survivorOfThree()
    expect(() => { cluster.get('d').node.recoverAsSoleVoter() }).toThrow(/only a voter/)
  })
})
