/**
 * Goal: a merged envelope (v3, issue 16) that a leader appended for its own callers and a follower's group
 * is settled by the committed log, not by the operation timeout, when that leader is deposed before it
 * commits. Any other leader refuses such an envelope, so it is never forwarded; the driver keeps the
 * (index, term) of each copy it appended and decides (raft-node.ts, `resolveLeaderOnly`): ruled out by the
 * committed log (another entry at its index, or an entry of a later term) → ProposalLostError at once,
 * nothing of it applied anywhere; committed by the successor → answered with its result as before; covered
 * by a snapshot this node installs → answered from the replicated session table.
 * A deposed leader that leads again: the copy it still holds commits under its new term's first entry and
 * answers its callers once (nothing appended again); a copy only truncated keeps them waiting (another node
 * might still hold it), until its own new term commits the entry that replaced it: then lost, nothing applied.
 * A caller's deadline (ProposeOptions.deadlineMs) times a proposal out before the operation timeout.
 * Method: three drivers with the real MeshShape machine and rules on a loopback network with cuttable links
 * (and, for the truncation, a filter that drops chosen messages).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { ConsensusTimeoutError, ProposalLostError } from '../../../src/consensus/errors.js'
import type { ProposalResult } from '../../../src/consensus/raft-node.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import { shapeCommandRules } from '../../../src/consensus/shape-command-rules.js'
import { MeshShape } from '../../../src/consensus/shape/core/index.js'
import type { ApplyResult, BatchedCommand, Outcome } from '../../../src/consensus/shape/core/index.js'
import { MemoryStorage } from '../sim/memory-storage-shim.js'
import { LoopbackNetwork, silentLogger, waitUntil } from './harness.js'
import { MessageType } from '../../../src/consensus/core/types.js'
import type { Message, NodeId } from '../../../src/consensus/core/types.js'
import type { MessageTransport } from '../../../src/consensus/raft-node.js'

/** A loopback network that also drops the messages `drop` picks (appends between two nodes, say). */
class FilteredNetwork extends LoopbackNetwork {
  drop: (m: Message) => boolean = () => false
  override transport (id: NodeId): MessageTransport {
    const inner = super.transport(id)
    return {
      send: (message) => { if (!this.drop(message)) inner.send(message) },
      setHandler: (handler) => { inner.setHandler(handler) }
    }
  }
}
import { newSigner } from '../shape/helpers.js'

const CLUSTER = 'cluster-1'
const codes = (outcomes: Outcome[] | undefined): string[] => (outcomes ?? []).map((o) => o.kind === 'applied' ? 'applied' : o.code)

interface Driver { id: string, raft: RaftNode<ApplyResult>, machine: ShapeMachine }

/** Settles with the proposal's result or error, or 'pending' after `ms` (well below the 20 s operation timeout). */
async function within (promise: Promise<ProposalResult<ApplyResult>>, ms: number): Promise<ProposalResult<ApplyResult> | Error | 'pending'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'pending'>((resolve) => { timer = setTimeout(() => resolve('pending'), ms) })
  try {
    return await Promise.race([promise.catch((err: Error) => err), late])
  } finally {
    clearTimeout(timer)
  }
}

describe('a deposed leader\'s merged envelope', () => {
  let a: Signer, b: Signer, c: Signer
  beforeAll(async () => { [a, b, c] = await Promise.all([newSigner(), newSigner(), newSigner()]) })
  const drivers: Driver[] = []
  afterEach(() => { for (const d of drivers.splice(0)) d.raft.stop() })
  /** Every driver's monotonic clock: the real one plus `skewMs`, which a test moves forward to pass a deadline. */
  const clock = { skewMs: 0, now: (): number => performance.now() + clock.skewMs }
  afterEach(() => { clock.skewMs = 0 })

  const promote = (id: string): BatchedCommand => ({ command: { kind: 'promote', nodeId: id, roles: ['scheduler'] }, reason: 'operator' })

  function startDriver (network: LoopbackNetwork, signer: Signer, options: { bootstrap?: boolean, snapshotEveryEntries?: number }): Driver {
    const machine = new ShapeMachine(CLUSTER)
    const members = [[a.nodeId, ['api-server', 'etcd', 'scheduler', 'controller-manager']], [b.nodeId, []], [c.nodeId, []]]
      .sort((x, y) => String(x[0]).localeCompare(String(y[0])))
    machine.restore(encodeCanonical(MeshShape.fromData({ members, target: { apiServers: 1, etcd: 1, schedulers: 3, controllerManagers: 1, minWorkers: 0 } }).toData()))
    const raft = new RaftNode<ApplyResult>({
      id: signer.nodeId, clientId: `${signer.nodeId}/driver`, tickMs: 10, electionTicks: 10, heartbeatTicks: 1, bootstrap: options.bootstrap ?? false,
      retryIntervalMs: 200, operationTimeoutMs: 20_000, snapshotEveryEntries: options.snapshotEveryEntries ?? 10_000, retainEntries: 1
    }, { storage: new MemoryStorage(), transport: network.transport(signer.nodeId), stateMachine: machine, logger: silentLogger, monotonicMs: clock.now, commandRules: shapeCommandRules(() => machine.shape), takeRequest: () => null })
    raft.start()
    const driver = { id: signer.nodeId, raft, machine }
    drivers.push(driver)
    return driver
  }

  async function threeVoters (network: LoopbackNetwork, snapshotEveryEntries?: number): Promise<[Driver, Driver, Driver]> {
    const opts = snapshotEveryEntries !== undefined ? { snapshotEveryEntries } : {}
    const da = startDriver(network, a, { bootstrap: true, ...opts })
    await waitUntil(() => da.raft.isLeader(), 5000, 'a leads')
    const rest: Driver[] = []
    for (const signer of [b, c]) {
      rest.push(startDriver(network, signer, opts))
      da.raft.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: signer.nodeId }], transition: 'auto', enterJoint: true })
      await waitUntil(() => da.raft.configuration().voters.includes(signer.nodeId) && da.raft.configuration().votersOutgoing.length === 0, 5000, 'voter added')
    }
    await waitUntil(() => drivers.every((d) => d.raft.appliedIndex() === da.raft.appliedIndex()), 5000, 'all applied')
    return [da, rest[0]!, rest[1]!]
  }

  /** a's own command for c and b's forwarded group for b, in one envelope a signs. */
  function mergedAt (da: Driver): Promise<ProposalResult<ApplyResult>> {
    const proposer = new ShapeProposer(a, CLUSTER, `${a.nodeId}/s`)
    return da.raft.propose(proposer.buildMerged([promote(c.nodeId)], [{ commands: [promote(b.nodeId)], via: { clientId: `${b.nodeId}/s.r`, seq: 1 } }], 1).bytes, { leaderOnly: true })
  }

  /**
   * a's appends reach b only and nobody's answers reach a: the merged envelope a proposes (`answer`, wrapped
   * so that awaiting this does not wait for it) is on a and b, not committed.
   */
  async function heldByAAndB (network: LoopbackNetwork, [da, db, dc]: [Driver, Driver, Driver], before: number): Promise<{ answer: Promise<ProposalResult<ApplyResult>> }> {
    network.cutOneWay(da.id, dc.id)
    network.cutOneWay(db.id, da.id)
    network.cutOneWay(dc.id, da.id)
    const answer = mergedAt(da)
    await waitUntil(() => db.raft.status().lastIndex === before + 1, 5000, 'b holds the envelope')
    return { answer }
  }

  it('should fail with ProposalLostError as soon as the successor\'s committed log rules it out, with nothing of it applied', async () => {
    const network = new LoopbackNetwork()
    const [da, db, dc] = await threeVoters(network)
    const before = da.raft.status().lastIndex
    network.isolate(da.id, [db.id, dc.id])
    const proposedFrom = clock.now()
    const answer = mergedAt(da)
    const proposedBy = clock.now()
    await waitUntil(() => da.raft.status().lastIndex === before + 1, 5000, 'a appended the envelope')
    // b and c elect one of them; its first entry takes the envelope's index.
    await waitUntil(() => db.raft.isLeader() || dc.raft.isLeader(), 5000, 'a successor')
    const successor = db.raft.isLeader() ? db : dc
    await waitUntil(() => successor.raft.appliedIndex() >= before + 1, 5000, 'the successor committed its first entry')
    network.heal()
    const outcome = await within(answer, 5000)
    expect(outcome).toBeInstanceOf(Error)
    expect((outcome as Error).name).toBe('ProposalLostError')
    // It names the deadline its proposal had (20 s after it was made): commands sent again keep it.
    const deadline = (outcome as ProposalLostError).deadlineMs as number
    expect(deadline).toBeGreaterThanOrEqual(proposedFrom + 20_000)
    expect(deadline).toBeLessThanOrEqual(proposedBy + 20_000)
    expect(da.raft.counters().proposalsLost).toBe(1)
    // Nothing of it applied anywhere, and a now follows the log without it.
    await waitUntil(() => drivers.every((d) => d.raft.appliedIndex() === successor.raft.appliedIndex()), 5000, 'all applied')
    for (const d of drivers) {
      expect(d.machine.shape.rolesOf(b.nodeId)).not.toContain('scheduler')
      expect(d.machine.shape.rolesOf(c.nodeId)).not.toContain('scheduler')
    }
  })

  it('should answer it as before when the successor holds it and commits it', async () => {
    const network = new LoopbackNetwork()
    const [da, db, dc] = await threeVoters(network)
    const before = da.raft.status().lastIndex
    const { answer } = await heldByAAndB(network, [da, db, dc], before)
    // a steps down (check-quorum), b (whose log is longer than c's) leads and commits the envelope with its first entry.
    await waitUntil(() => db.raft.isLeader() && db.raft.appliedIndex() >= before + 1, 10_000, 'b leads and committed the envelope')
    expect(db.machine.shape.rolesOf(c.nodeId)).toContain('scheduler')
    network.heal()
    const outcome = await within(answer, 5000)
    expect(outcome).not.toBeInstanceOf(Error)
    expect(outcome).toMatchObject({ index: before + 1, duplicate: false })
    expect(codes((outcome as ProposalResult<ApplyResult>).result.outcomes)).toEqual(['applied', 'applied'])
    expect(da.raft.counters().proposalsLost).toBe(0)
  })

  it('should answer it from the session table when a snapshot from the successor covers it', async () => {
    const network = new LoopbackNetwork()
    const [da, db, dc] = await threeVoters(network, 4)
    const before = da.raft.status().lastIndex
    const { answer } = await heldByAAndB(network, [da, db, dc], before)
    // a stays cut off while b commits the envelope and enough after it to compact past it.
    network.cutOneWay(da.id, db.id)
    await waitUntil(() => db.raft.isLeader() && db.raft.appliedIndex() >= before + 1, 10_000, 'b leads and committed the envelope')
    const proposer = new ShapeProposer(b, CLUSTER, `${b.nodeId}/s`)
    for (let i = 0; i < 8; i++) await db.raft.propose(proposer.build(db.machine.shape, { kind: 'restore', nodeId: c.nodeId }, 'operator', 1).bytes)
    await waitUntil(() => db.raft.termAt(before + 1) === undefined, 5000, 'b compacted the envelope away')
    network.heal()
    const outcome = await within(answer, 5000)
    expect(outcome).not.toBeInstanceOf(Error)
    expect(outcome).toMatchObject({ index: before + 1, duplicate: false })
    expect(codes((outcome as ProposalResult<ApplyResult>).result.outcomes)).toEqual(['applied', 'applied'])
    expect(da.raft.counters().proposalsLost).toBe(0)
    expect(da.machine.shape.rolesOf(c.nodeId)).toContain('scheduler')
  })

  it('should time a proposal out at the deadline its caller passes, before the operation timeout, and refuse one already past it', async () => {
    const network = new LoopbackNetwork()
    const [da, db, dc] = await threeVoters(network)
    // a cannot commit anything: the proposal waits until a deadline settles it.
    network.isolate(da.id, [db.id, dc.id])
    const proposer = new ShapeProposer(a, CLUSTER, `${a.nodeId}/s`)
    const answer = da.raft.propose(proposer.build(da.machine.shape, { kind: 'restore', nodeId: c.nodeId }, 'operator', 1).bytes, { deadlineMs: clock.now() + 5_000 })
    expect(await within(answer, 300)).toBe('pending')
    // 5 s pass on the driver's clock (15 s before its own 20 s operation timeout): timed out at the next tick.
    clock.skewMs += 5_000
    const outcome = await within(answer, 3000)
    expect(outcome).toBeInstanceOf(Error)
    expect((outcome as Error).name).toBe('ConsensusTimeoutError')
    // Proposed, then timed out: its fate is unknown.
    expect((outcome as ConsensusTimeoutError).proposed).toBe(true)
    // A deadline already past: refused at once, nothing proposed.
    const lastIndex = da.raft.status().lastIndex
    const late = await within(da.raft.propose(proposer.build(da.machine.shape, { kind: 'restore', nodeId: b.nodeId }, 'operator', 2).bytes, { deadlineMs: clock.now() - 1 }), 3000)
    expect((late as Error).name).toBe('ConsensusTimeoutError')
    expect((late as Error).message).toContain('not proposed')
    // Known not proposed: the batcher answers a lost command's caller "not applied" from this (proposal-batcher.ts).
    expect((late as ConsensusTimeoutError).proposed).toBe(false)
    expect(da.raft.status().lastIndex).toBe(lastIndex)
  })

  describe('when the deposed leader leads again', () => {
    /** Everyone applied the same index; nobody applied an entry twice. */
    async function settled (): Promise<void> {
      await waitUntil(() => drivers.every((d) => d.raft.appliedIndex() === drivers[0]!.raft.appliedIndex()), 5000, 'all applied')
      for (const d of drivers) expect(d.raft.counters().duplicateCommands).toBe(0)
    }

    it('should answer its callers once, from the copy it still holds, when it commits it in its later term, and not before', async () => {
      const network = new FilteredNetwork()
      const [da, db, dc] = await threeVoters(network)
      const before = da.raft.status().lastIndex
      const term = da.raft.status().term
      // Nobody hears anybody: a appends the envelope alone and steps down; b and c cannot elect each other.
      network.isolate(da.id, [db.id, dc.id])
      network.isolate(db.id, [dc.id])
      let answeredAtCommit: number | undefined
      const answer = mergedAt(da)
      void answer.then(() => { answeredAtCommit = da.raft.status().commit }, () => {})
      await waitUntil(() => da.raft.status().lastIndex === before + 1 && !da.raft.isLeader(), 5000, 'a appended the envelope and stepped down')
      expect(await within(answer, 300)).toBe('pending')
      // a reaches b and c again (they still not each other): only a, whose log is the longest, can win.
      network.heal()
      network.isolate(db.id, [dc.id])
      await waitUntil(() => da.raft.isLeader(), 10_000, 'a leads again')
      expect(da.raft.status().term).toBeGreaterThan(term)
      const outcome = await within(answer, 5000)
      expect(outcome).not.toBeInstanceOf(Error)
      // The copy at (before + 1, the old term) committed under a's new term's first entry: nothing appended again.
      expect(outcome).toMatchObject({ index: before + 1, term, duplicate: false })
      expect(codes((outcome as ProposalResult<ApplyResult>).result.outcomes)).toEqual(['applied', 'applied'])
      expect(answeredAtCommit).toBeGreaterThanOrEqual(before + 1)
      await settled()
      for (const d of drivers) {
        expect(d.raft.termAt(before + 1)).toBe(term)
        expect(d.machine.shape.rolesOf(b.nodeId)).toContain('scheduler')
        expect(d.machine.shape.rolesOf(c.nodeId)).toContain('scheduler')
      }
      expect(da.raft.counters().proposalsLost).toBe(0)
    })

    it('should keep its callers waiting when its copy is only truncated, and fail them once when its own later term commits the entry that replaced it', async () => {
      const network = new FilteredNetwork()
      const [da, db, dc] = await threeVoters(network)
      const before = da.raft.status().lastIndex
      const term = da.raft.status().term
      // b and c will elect one of them, whose first entry cannot reach the other: appended at before + 1, not committed.
      network.drop = (m) => m.type === MessageType.App && m.entries.length > 0 && m.from !== da.id && m.to !== da.id
      network.isolate(da.id, [db.id, dc.id])
      const answer = mergedAt(da)
      await waitUntil(() => da.raft.status().lastIndex === before + 1 && !da.raft.isLeader(), 5000, 'a appended the envelope and stepped down')
      await waitUntil(() => db.raft.isLeader() || dc.raft.isLeader(), 5000, 'a successor')
      const successor = db.raft.isLeader() ? db : dc
      const other = successor === db ? dc : db
      await waitUntil(() => successor.raft.status().lastIndex === before + 1, 5000, 'the successor appended its first entry')
      // The successor's appends reach a (its copy is truncated away); a's refusals reach it, its acks do not.
      const appendsBetweenBAndC = network.drop
      network.drop = (m) => appendsBetweenBAndC(m) || (m.from === da.id && m.to === successor.id && m.type === MessageType.AppResp && !m.reject)
      network.heal()
      network.isolate(da.id, [other.id])
      await waitUntil(() => da.raft.termAt(before + 1) !== term, 5000, 'a\'s copy truncated')
      expect(successor.raft.status().commit).toBeLessThan(before + 1)
      // Truncated is not ruled out: another node could still hold the copy and lead.
      expect(await within(answer, 300)).toBe('pending')
      // The successor goes away; a (the longest log) and the other elect a, which commits the successor's entry.
      network.heal()
      network.drop = () => false
      network.isolate(successor.id, [da.id, other.id])
      await waitUntil(() => da.raft.isLeader(), 10_000, 'a leads again')
      const outcome = await within(answer, 5000)
      expect(outcome).toBeInstanceOf(Error)
      expect((outcome as Error).name).toBe('ProposalLostError')
      expect(da.raft.counters().proposalsLost).toBe(1)
      // Nothing of it applied, and a did not append it again in its new term.
      await waitUntil(() => da.raft.appliedIndex() === other.raft.appliedIndex() && da.raft.appliedIndex() >= before + 2, 5000, 'a and the other applied')
      for (const d of [da, other]) {
        expect(d.raft.termAt(before + 1)).toBe(successor.raft.termAt(before + 1))
        expect(d.raft.counters().duplicateCommands).toBe(0)
        expect(d.machine.shape.rolesOf(b.nodeId)).not.toContain('scheduler')
        expect(d.machine.shape.rolesOf(c.nodeId)).not.toContain('scheduler')
      }
    })
  })
})
