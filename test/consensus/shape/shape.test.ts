import { beforeAll, describe, expect, it } from 'vitest'
import { cidOfValue, encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import { MeshShape, TARGET_PRESETS, encodeSignedProposal, envelopeBytesAndCid } from '../../../src/consensus/shape/core/index.js'
import type { Command, ApplyResult, Reason } from '../../../src/consensus/shape/core/index.js'
import type { ConfChange } from '../../../src/consensus/core/types.js'
import { newSigner } from './helpers.js'

const CLUSTER = 'cluster-1'

describe('MeshShape state machine', () => {
  let a: Signer, b: Signer, c: Signer, outsider: Signer
  beforeAll(async () => { [a, b, c, outsider] = await Promise.all([newSigner(), newSigner(), newSigner(), newSigner()]) })

  /** Applies commands in order on a fresh machine; returns the machine and every result. */
  function run (steps: Array<{ signer: Signer, command: Command, confChange?: ConfChange | 'auto', reason?: Reason }>): { machine: ShapeMachine, results: ApplyResult[] } {
    const machine = new ShapeMachine(CLUSTER)
    const proposers = new Map<Signer, ShapeProposer>()
    const results: ApplyResult[] = []
    steps.forEach((step, i) => {
      const proposer = proposers.get(step.signer) ?? new ShapeProposer(step.signer, CLUSTER, step.signer.nodeId)
      proposers.set(step.signer, proposer)
      const built = proposer.build(machine.shape, step.command, step.reason ?? 'operator', 1000)
      const confChange = step.confChange === 'auto' ? built.confChange : step.confChange
      results.push(machine.apply(built.bytes, { index: i + 1, term: 1, timeMs: 5, ...(confChange !== undefined ? { confChange } : {}) }).result)
    })
    return { machine, results }
  }

  const boot = (): Array<{ signer: Signer, command: Command, confChange?: ConfChange | 'auto' }> => [
    { signer: a, command: { kind: 'bootstrap', nodeId: a.nodeId } },
    { signer: a, command: { kind: 'add-member', nodeId: b.nodeId }, confChange: { steps: [{ type: 'add-learner', nodeId: b.nodeId }], transition: 'auto' } }
  ]

  it('should bootstrap the creator with every control-plane role and admit a worker', () => {
    const { machine, results } = run(boot())
    expect(results.map((r) => r.outcome.kind)).toEqual(['applied', 'applied'])
    expect(machine.shape.rolesOf(a.nodeId)).toEqual(['api-server', 'etcd', 'scheduler', 'controller-manager'])
    expect(machine.shape.rolesOf(b.nodeId)).toEqual(['worker'])
    expect(machine.shape.voters()).toEqual([a.nodeId])
    expect(results[0]!.cid).toMatch(/^b/)
  })

  it('should move voters only together with the matching joint configuration change', () => {
    const promote: Command = { kind: 'promote', nodeId: b.nodeId, roles: ['etcd'] }
    const alone = run([...boot(), { signer: a, command: promote }])
    expect(alone.results[2]!.outcome).toMatchObject({ kind: 'rejected', code: 'voters-not-moved' })
    const wrong = run([...boot(), { signer: a, command: promote, confChange: { steps: [{ type: 'add-voter', nodeId: a.nodeId }], transition: 'auto' } }])
    expect(wrong.results[2]!.outcome).toMatchObject({ kind: 'rejected', code: 'voter-mismatch' })
    const right = run([...boot(), { signer: a, command: promote, confChange: 'auto' }])
    expect(right.results[2]!.outcome.kind).toBe('applied')
    expect(right.machine.shape.voters().sort()).toEqual([a.nodeId, b.nodeId].sort())
  })

  it('should reject each invalid command with its typed code and leave the shape unchanged', () => {
    const cases: Array<[Command, string, Signer?]> = [
      [{ kind: 'promote', nodeId: c.nodeId, roles: ['scheduler'] }, 'unknown-node'],
      [{ kind: 'add-member', nodeId: b.nodeId }, 'already-member'],
      [{ kind: 'promote', nodeId: a.nodeId, roles: ['scheduler'] }, 'role-already-held'],
      [{ kind: 'demote', nodeId: b.nodeId, roles: ['scheduler'] }, 'role-not-held'],
      [{ kind: 'demote', nodeId: a.nodeId, roles: ['etcd'] }, 'last-voter'],
      [{ kind: 'remove-member', nodeId: a.nodeId }, 'holds-control-plane-role'],
      [{ kind: 'restore', nodeId: b.nodeId }, 'not-quarantined'],
      [{ kind: 'bootstrap', nodeId: b.nodeId }, 'not-empty'],
      [{ kind: 'set-target', target: { ...TARGET_PRESETS.homelab, etcd: 0 } }, 'invalid-target'],
      [{ kind: 'promote', nodeId: b.nodeId, roles: ['scheduler'] }, 'unknown-proposer', outsider]
    ]
    for (const [command, code, signer] of cases) {
      const { machine, results } = run([...boot(), { signer: signer ?? a, command }])
      expect(results[2]!.outcome, code).toMatchObject({ kind: 'rejected', code })
      expect(machine.shape.rolesOf(b.nodeId)).toEqual(['worker'])
    }
  })

  it('should refuse to promote a quarantined node and restore it as a worker', () => {
    const { machine, results } = run([
      ...boot(),
      { signer: a, command: { kind: 'quarantine', nodeId: b.nodeId } },
      { signer: a, command: { kind: 'promote', nodeId: b.nodeId, roles: ['scheduler'] } },
      { signer: a, command: { kind: 'restore', nodeId: b.nodeId } }
    ])
    expect(results[2]!.outcome.kind).toBe('applied')
    expect(results[3]!.outcome).toMatchObject({ kind: 'rejected', code: 'node-quarantined' })
    expect(results[4]!.outcome.kind).toBe('applied')
    expect(machine.shape.rolesOf(b.nodeId)).toEqual(['worker'])
  })

  it('should reject a forged signature, another cluster and malformed bytes', () => {
    const machine = run(boot()).machine
    const envelope = { v: 1 as const, clusterId: CLUSTER, command: { kind: 'promote' as const, nodeId: b.nodeId, roles: ['scheduler' as const] }, reason: 'operator' as const, proposer: a.nodeId, proposalId: { clientId: 'x', seq: 1 }, proposedAtMs: 1 }
    const { bytes, cid } = envelopeBytesAndCid(envelope)
    const forged = encodeSignedProposal(bytes, outsider.sign('proposal', CLUSTER, cid))
    expect(machine.apply(forged, { index: 3, term: 1, timeMs: 0 }).result.outcome).toMatchObject({ code: 'bad-signature' })
    const other = envelopeBytesAndCid({ ...envelope, clusterId: 'other' })
    const wrongCluster = encodeSignedProposal(other.bytes, a.sign('proposal', 'other', other.cid))
    expect(machine.apply(wrongCluster, { index: 4, term: 1, timeMs: 0 }).result.outcome).toMatchObject({ code: 'wrong-cluster' })
    expect(machine.apply(new Uint8Array([1, 2, 3]), { index: 5, term: 1, timeMs: 0 }).result).toMatchObject({ cid: '', outcome: { code: 'malformed' } })
    expect(machine.apply(encodeCanonical({ e: new Uint8Array(1), s: new Uint8Array(64) }), { index: 6, term: 1, timeMs: 0 }).result.outcome).toMatchObject({ code: 'malformed' })
    expect(machine.shape.rolesOf(b.nodeId)).toEqual(['worker'])
  })

  it('should report the CID of the shape in force after every apply and restore (it is computed once per shape)', () => {
    const machine = new ShapeMachine(CLUSTER)
    const proposer = new ShapeProposer(a, CLUSTER, a.nodeId)
    const cids = [machine.shapeCid()]
    for (const [i, step] of boot().entries()) {
      const built = proposer.build(machine.shape, step.command, 'operator', 1000)
      const confChange = step.confChange === 'auto' ? built.confChange : step.confChange
      machine.apply(built.bytes, { index: i + 1, term: 1, timeMs: 5, ...(confChange !== undefined ? { confChange } : {}) })
      expect(machine.shapeCid()).toBe(cidOfValue(machine.shape.toData()).toString())
      cids.push(machine.shapeCid())
    }
    expect(new Set(cids).size).toBe(3)
    machine.restore(new ShapeMachine(CLUSTER).snapshot())
    expect(machine.shapeCid()).toBe(cids[0])
  })

  it('should encode equal shapes to equal bytes and CIDs whatever the insertion order, and round-trip snapshots', () => {
    const ids = ['n3', 'n1', 'n2']
    const one = MeshShape.fromData({ members: [['n1', ['etcd', 'api-server']], ['n2', []], ['n3', ['quarantined']]], target: TARGET_PRESETS['ha-three'] })
    const two = MeshShape.fromData({ members: [['n3', ['quarantined']], ['n2', []], ['n1', ['api-server', 'etcd']]], target: { ...TARGET_PRESETS['ha-three'] } })
    expect(cidOfValue(one.toData()).toString()).toBe(cidOfValue(two.toData()).toString())
    expect(ids.map((id) => one.rolesOf(id))).toEqual(ids.map((id) => two.rolesOf(id)))
    const { machine } = run(boot())
    const copy = new ShapeMachine(CLUSTER)
    copy.restore(machine.snapshot())
    expect(copy.shapeCid()).toBe(machine.shapeCid())
    expect(() => copy.restore(encodeCanonical({ members: [['x', ['worker']]], target: TARGET_PRESETS.homelab }))).toThrow()
  })
})
