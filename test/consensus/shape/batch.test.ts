/**
 * Batch envelopes (issue 16): several operator commands (or the leader's add-member commands) under one signature, decoded strictly (count
 * bounded before anything else is read, empty batches refused, only batchable kinds), applied in order
 * with one outcome per command, and refused as a whole when the envelope itself is bad.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import {
  MAX_BATCH_COMMANDS, decodeProposalOrError, decodeSignedProposal, encodeSignedProposal
} from '../../../src/consensus/shape/core/index.js'
import type { BatchedCommand } from '../../../src/consensus/shape/core/index.js'
import { newSigner, restoredMachine, signEnvelopeValue } from './helpers.js'

const CLUSTER = 'cluster-1'

describe('batch envelope (v2)', () => {
  let a: Signer, b: Signer, c: Signer
  beforeAll(async () => { [a, b, c] = await Promise.all([newSigner(), newSigner(), newSigner()]) })

  /** a holds every role; b and c are workers. */
  const machine = (): ShapeMachine => restoredMachine(CLUSTER, [[a.nodeId, ['api-server', 'etcd', 'scheduler', 'controller-manager']], [b.nodeId, []], [c.nodeId, []]],
    { apiServers: 1, etcd: 1, schedulers: 2, controllerManagers: 1, minWorkers: 0 })

  /** Signs any envelope-shaped value (for malformed ones the proposer would never build). */
  const signed = (value: unknown, by: Signer = a): Uint8Array => signEnvelopeValue(value, by, CLUSTER)

  const batchValue = (commands: unknown[]): Record<string, unknown> =>
    ({ v: 2, clusterId: CLUSTER, commands, proposer: a.nodeId, proposalId: { clientId: 'x', seq: 1 }, proposedAtMs: 1 })
  const promoteB: BatchedCommand = { command: { kind: 'promote', nodeId: '', roles: ['scheduler'] }, reason: 'operator' }

  it('should round-trip a batch envelope built by the proposer, with its commands in order', () => {
    const items: BatchedCommand[] = [
      { command: { kind: 'promote', nodeId: b.nodeId, roles: ['scheduler'] }, reason: 'operator' },
      { command: { kind: 'demote', nodeId: a.nodeId, roles: ['scheduler'], pin: true }, reason: 'rebalance' }
    ]
    const built = new ShapeProposer(a, CLUSTER, 'session').buildBatch(items, 1234.7)
    const decoded = decodeSignedProposal(built.bytes)
    expect(decoded?.envelope).toEqual({ v: 2, clusterId: CLUSTER, commands: items, proposer: a.nodeId, proposalId: { clientId: 'session', seq: 1 }, proposedAtMs: 1234 })
    expect(decoded?.cid.toString()).toBe(built.cid)
    expect(built.confChange).toBeUndefined()
  })

  it('should refuse an empty batch and one over MAX_BATCH_COMMANDS with typed errors', () => {
    const one = { ...promoteB, command: { ...promoteB.command, nodeId: b.nodeId } }
    expect((decodeProposalOrError(signed(batchValue([]))) as Error).name).toBe('ProposalBatchEmptyError')
    const tooMany = decodeProposalOrError(signed(batchValue(Array.from({ length: MAX_BATCH_COMMANDS + 1 }, () => one))))
    expect((tooMany as Error).name).toBe('ProposalBatchTooLargeError')
    expect(decodeSignedProposal(signed(batchValue(Array.from({ length: MAX_BATCH_COMMANDS }, () => one))))).not.toBeNull()
  })

  it('should refuse batches with commands that never travel in a batch or with stray fields', () => {
    const malformed = (commands: unknown[], extra: Record<string, unknown> = {}): string =>
      (decodeProposalOrError(signed({ ...batchValue(commands), ...extra })) as Error).name
    expect(malformed([{ command: { kind: 'remove-member', nodeId: b.nodeId }, reason: 'operator' }])).toBe('MalformedProposalError')
    expect(malformed([{ command: { kind: 'rejoin', nodeId: b.nodeId }, reason: 'health-degraded' }])).toBe('MalformedProposalError')
    expect(malformed([{ command: { kind: 'bootstrap', nodeId: b.nodeId }, reason: 'bootstrap' }])).toBe('MalformedProposalError')
    expect(malformed([{ command: { kind: 'set-target', target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 0 } }, reason: 'operator' }])).toBe('MalformedProposalError')
    expect(malformed([{ command: { kind: 'restore', nodeId: b.nodeId } }])).toBe('MalformedProposalError')
    expect(malformed([{ command: { kind: 'restore', nodeId: b.nodeId }, reason: 'operator', x: 1 }])).toBe('MalformedProposalError')
    expect(malformed([{ command: { kind: 'restore', nodeId: b.nodeId }, reason: 'operator' }], { reason: 'operator' })).toBe('MalformedProposalError')
    expect(malformed('nope' as unknown as unknown[])).toBe('MalformedProposalError')
  })

  it('should apply a batch in order with one outcome per command, rejections changing nothing', () => {
    const m = machine()
    const items: BatchedCommand[] = [
      { command: { kind: 'promote', nodeId: b.nodeId, roles: ['scheduler'] }, reason: 'operator' },
      // Already held after the first command: rejected by sequential application.
      { command: { kind: 'promote', nodeId: b.nodeId, roles: ['scheduler'] }, reason: 'operator' },
      { command: { kind: 'demote', nodeId: c.nodeId, roles: ['scheduler'] }, reason: 'operator' },
      // Moves the voters: a batch never carries a configuration change.
      { command: { kind: 'promote', nodeId: c.nodeId, roles: ['etcd'] }, reason: 'operator' },
      { command: { kind: 'quarantine', nodeId: c.nodeId }, reason: 'health-degraded' }
    ]
    const built = new ShapeProposer(a, CLUSTER, 'session').buildBatch(items, 1)
    const { result, accepted } = m.apply(built.bytes, { index: 7, term: 2, timeMs: 3 })
    expect(accepted).toBe(true)
    expect(result).toMatchObject({ index: 7, term: 2, cid: built.cid, outcome: { kind: 'applied' } })
    expect(result.outcomes?.map((o) => o.kind === 'applied' ? 'applied' : o.code)).toEqual(['applied', 'role-already-held', 'role-not-held', 'voters-not-moved', 'applied'])
    expect(m.shape.rolesOf(b.nodeId)).toEqual(['scheduler'])
    expect(m.shape.isQuarantined(c.nodeId)).toBe(true)
    expect(m.shape.voters()).toEqual([a.nodeId])
  })

  it('should admit several new members in one batch of add-member commands (the leader\'s admission wave)', async () => {
    const m = machine()
    const [d, e] = await Promise.all([newSigner(), newSigner()])
    const items: BatchedCommand[] = [
      { command: { kind: 'add-member', nodeId: d.nodeId }, reason: 'admission' },
      // Already a member: rejected alone, the others still apply.
      { command: { kind: 'add-member', nodeId: b.nodeId }, reason: 'admission' },
      { command: { kind: 'add-member', nodeId: e.nodeId }, reason: 'admission' }
    ]
    const built = new ShapeProposer(a, CLUSTER, 'session').buildBatch(items, 1)
    expect(decodeSignedProposal(built.bytes)).not.toBeNull()
    const { result, accepted } = m.apply(built.bytes, { index: 4, term: 2, timeMs: 0 })
    expect(accepted).toBe(true)
    expect(result.outcomes?.map((o) => o.kind === 'applied' ? 'applied' : o.code)).toEqual(['applied', 'already-member', 'applied'])
    expect(m.shape.has(d.nodeId) && m.shape.has(e.nodeId)).toBe(true)
    // Workers, not voters: a batch moves no voter, so it needs no configuration change.
    expect(m.shape.voters()).toEqual([a.nodeId])
  })

  it('should end in the same shape as the same commands committed one by one', () => {
    const items: BatchedCommand[] = [
      { command: { kind: 'promote', nodeId: b.nodeId, roles: ['scheduler', 'api-server'] }, reason: 'operator' },
      { command: { kind: 'demote', nodeId: b.nodeId, roles: ['api-server'] }, reason: 'operator' },
      { command: { kind: 'quarantine', nodeId: c.nodeId }, reason: 'operator' },
      { command: { kind: 'restore', nodeId: c.nodeId }, reason: 'operator' }
    ]
    const batched = machine()
    const batchResult = batched.apply(new ShapeProposer(a, CLUSTER, 's').buildBatch(items, 1).bytes, { index: 1, term: 1, timeMs: 0 }).result
    const single = machine()
    const proposer = new ShapeProposer(a, CLUSTER, 't')
    const outcomes = items.map((item, i) => single.apply(proposer.build(single.shape, item.command, item.reason, 1).bytes, { index: i + 1, term: 1, timeMs: 0 }).result.outcome)
    expect(batchResult.outcomes).toEqual(outcomes)
    expect(batched.shapeCid()).toBe(single.shapeCid())
  })

  it('should refuse the whole batch, each command alike, when the envelope is bad', () => {
    const items: BatchedCommand[] = [
      { command: { kind: 'promote', nodeId: b.nodeId, roles: ['scheduler'] }, reason: 'operator' },
      { command: { kind: 'quarantine', nodeId: c.nodeId }, reason: 'operator' }
    ]
    const m = machine()
    const before = m.shapeCid()
    const forged = new ShapeProposer(b, CLUSTER, 's').buildBatch(items, 1)
    const decoded = decodeSignedProposal(forged.bytes)!
    const wrongSigner = encodeSignedProposal(decoded.envelopeBytes, c.sign('proposal', CLUSTER, decoded.cid))
    const bad = m.apply(wrongSigner, { index: 1, term: 1, timeMs: 0 })
    expect(bad.accepted).toBe(false)
    expect(bad.result.outcome).toMatchObject({ kind: 'rejected', code: 'bad-signature' })
    expect(bad.result.outcomes).toEqual([bad.result.outcome, bad.result.outcome])
    const inConfChange = m.apply(new ShapeProposer(a, CLUSTER, 's').buildBatch(items, 1).bytes, {
      index: 2, term: 1, timeMs: 0, confChange: { steps: [{ type: 'add-voter', nodeId: b.nodeId }], transition: 'auto' }
    })
    expect(inConfChange.result.outcome).toMatchObject({ kind: 'rejected', code: 'voter-mismatch' })
    expect(inConfChange.accepted).toBe(false)
    expect(m.shapeCid()).toBe(before)
  })

  it('should keep decoding v1 envelopes exactly as before', () => {
    const built = new ShapeProposer(a, CLUSTER, 's').build(machine().shape, { kind: 'restore', nodeId: b.nodeId }, 'operator', 1)
    expect(decodeSignedProposal(built.bytes)?.envelope.v).toBe(1)
    // A v1 envelope's proposal id was never checked for extra keys: it must keep decoding (WAL replay).
    const loose = signed({ v: 1, clusterId: CLUSTER, command: { kind: 'restore', nodeId: b.nodeId }, reason: 'operator', proposer: a.nodeId, proposalId: { clientId: 'x', seq: 1, z: 0 }, proposedAtMs: 1 })
    expect(decodeSignedProposal(loose)).not.toBeNull()
    expect((decodeProposalOrError(encodeCanonical({ e: new Uint8Array(3), s: new Uint8Array(64) })) as Error).message).toBe('not a signed proposal envelope')
  })
})
