/**
 * Joined etcd promotions (issue 16): `promote … with [nodes]` gives the same roles to several nodes in one
 * command, so several new voters enter in ONE joint configuration change (1 → 3 voters with no 2-voter
 * step). Decoded strictly (ascending, distinct, not the command's own node, bounded), applied all-or-nothing,
 * and judged against its configuration change like any voter move; a command without `with` keeps its bytes.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { decodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import { deriveConfChange } from '../../../src/consensus/shape-command-rules.js'
import { MeshShape, decodeSignedProposal, encodeSignedProposal, envelopeBytesAndCid, transition } from '../../../src/consensus/shape/core/index.js'
import type { Command, Envelope } from '../../../src/consensus/shape/core/index.js'
import type { ConfChange } from '../../../src/consensus/core/types.js'
import { newSigner, restoredMachine } from './helpers.js'

const CLUSTER = 'cluster-1'

describe('joined etcd promotion (promote … with)', () => {
  let a: Signer
  let b: string, c: string, d: string
  beforeAll(async () => {
    a = await newSigner()
    ;[b, c, d] = (await Promise.all([newSigner(), newSigner(), newSigner()])).map((s) => s.nodeId).sort() as [string, string, string]
  })

  /** a holds every role (the one voter); b, c, d are learners/workers; target ha-three. */
  const machine = (): ShapeMachine => restoredMachine(CLUSTER, [[a.nodeId, ['api-server', 'etcd', 'scheduler', 'controller-manager']], [b, []], [c, []], [d, []]],
    { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 0 })

  function signed (command: unknown): Uint8Array {
    const envelope = { v: 1, clusterId: CLUSTER, command, reason: 'scaling-up', proposer: a.nodeId, proposalId: { clientId: 'x', seq: 1 }, proposedAtMs: 1 }
    const { bytes, cid } = envelopeBytesAndCid(envelope as Envelope)
    return encodeSignedProposal(bytes, a.sign('proposal', CLUSTER, cid))
  }

  const conf = { voters: [] as string[], votersOutgoing: [] as string[], learners: [] as string[], learnersNext: [] as string[], autoLeave: false }

  it('should move 1 voter to 3 in one joint configuration change, never through 2', () => {
    const m = machine()
    const command: Command = { kind: 'promote', nodeId: b, roles: ['api-server', 'etcd'], with: [c] }
    const built = new ShapeProposer(a, CLUSTER, 'leader').build(m.shape, command, 'scaling-up', 1)
    // The proposer and the leader (which derives the change from its own shape) agree: two add-voter steps, one joint change.
    const expected: ConfChange = { steps: [{ type: 'add-voter', nodeId: b }, { type: 'add-voter', nodeId: c }], transition: 'auto', enterJoint: true }
    expect(built.confChange).toEqual(expected)
    expect(deriveConfChange(m.shape, built.bytes, { ...conf, voters: [a.nodeId], learners: [b, c, d] })).toEqual(expected)
    const counts: number[] = [m.shape.voters().length]
    m.onChange((shape) => counts.push(shape.voters().length))
    const { result } = m.apply(built.bytes, { index: 10, term: 1, timeMs: 0, confChange: expected })
    expect(result.outcome).toEqual({ kind: 'applied' })
    expect(m.shape.voters()).toEqual([a.nodeId, b, c].sort())
    expect(m.shape.holders('api-server')).toEqual([a.nodeId, b, c].sort())
    expect(counts).toEqual([1, 3])
  })

  it('should refuse it without its configuration change, or with one that moves fewer voters', () => {
    const bytes = signed({ kind: 'promote', nodeId: b, roles: ['etcd'], with: [c] })
    const without = machine().apply(bytes, { index: 10, term: 1, timeMs: 0 })
    expect(without.result.outcome).toMatchObject({ kind: 'rejected', code: 'voters-not-moved' })
    const half = machine().apply(bytes, { index: 10, term: 1, timeMs: 0, confChange: { steps: [{ type: 'add-voter', nodeId: b }], transition: 'auto', enterJoint: true } })
    expect(half.result.outcome).toMatchObject({ kind: 'rejected', code: 'voter-mismatch' })
  })

  it('should apply all of it or nothing: one quarantined or unknown node refuses the whole command', () => {
    let shape = machine().shape
    const q = transition(shape, { kind: 'quarantine', nodeId: c })
    if (q.kind !== 'applied') throw new Error('setup')
    shape = q.shape
    expect(transition(shape, { kind: 'promote', nodeId: b, roles: ['etcd'], with: [c] })).toMatchObject({ kind: 'rejected', code: 'node-quarantined' })
    expect(transition(machine().shape, { kind: 'promote', nodeId: b, roles: ['etcd'], with: ['nobody'] })).toMatchObject({ kind: 'rejected', code: 'unknown-node' })
    // The etcd limit counts every node of the command.
    const full = MeshShape.fromData({ members: [['n1', ['etcd']], ['n2', ['etcd']], ['n3', ['etcd']], ['n4', ['etcd']], ['n5', ['etcd']], ['n6', []], ['n7', []], ['n8', []]], target: { apiServers: 1, etcd: 7, schedulers: 1, controllerManagers: 1, minWorkers: 0 } })
    expect(transition(full, { kind: 'promote', nodeId: 'n6', roles: ['etcd'], with: ['n7'] }).kind).toBe('applied')
    expect(transition(full, { kind: 'promote', nodeId: 'n6', roles: ['etcd'], with: ['n7', 'n8'] })).toMatchObject({ kind: 'rejected', code: 'limit-exceeded' })
  })

  it('should decode only an ascending, distinct list of other nodes on a promote, and leave a promote without it byte for byte as before', () => {
    const decodes = (command: unknown): boolean => decodeSignedProposal(signed(command)) !== null
    expect(decodes({ kind: 'promote', nodeId: b, roles: ['etcd'], with: [c, d] })).toBe(true)
    expect(decodes({ kind: 'promote', nodeId: b, roles: ['etcd'], with: [c], pin: true })).toBe(true)
    expect(decodes({ kind: 'promote', nodeId: b, roles: ['etcd'], with: [d, c] })).toBe(false)
    expect(decodes({ kind: 'promote', nodeId: b, roles: ['etcd'], with: [c, c] })).toBe(false)
    expect(decodes({ kind: 'promote', nodeId: b, roles: ['etcd'], with: [b] })).toBe(false)
    expect(decodes({ kind: 'promote', nodeId: b, roles: ['etcd'], with: [] })).toBe(false)
    expect(decodes({ kind: 'promote', nodeId: b, roles: ['etcd'], with: ['', c] })).toBe(false)
    expect(decodes({ kind: 'promote', nodeId: b, roles: ['etcd'], with: c })).toBe(false)
    expect(decodes({ kind: 'promote', nodeId: 'a', roles: ['etcd'], with: ['b', 'c', 'd', 'e', 'f', 'g', 'h'] })).toBe(false)
    expect(decodes({ kind: 'demote', nodeId: b, roles: ['etcd'], with: [c] })).toBe(false)
    const plain = decodeSignedProposal(signed({ kind: 'promote', nodeId: b, roles: ['etcd'] }))
    expect(plain?.envelope.v === 1 && plain.envelope.command).toEqual({ kind: 'promote', nodeId: b, roles: ['etcd'] })
    expect(Object.keys(decodeCanonical<{ command: object }>(plain!.envelopeBytes).command).sort()).toEqual(['kind', 'nodeId', 'roles'])
  })
})
