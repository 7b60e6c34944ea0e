/**
 * A lost voter's replacement in one command (issue 16): `promote <new> … replacing <old>` gives the roles to the
 * new node and takes exactly those roles from the old one, so the voters move out and in with ONE joint
 * configuration change (3 → 3, never through 2). Decoded strictly (never with `pin` or `with`, never the
 * promoted node itself, never on a demote), applied all or nothing, and judged against its configuration
 * change like any voter move.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import { deriveConfChange } from '../../../src/consensus/shape-command-rules.js'
import { decodeSignedProposal, encodeSignedProposal, envelopeBytesAndCid, transition } from '../../../src/consensus/shape/core/index.js'
import type { Command, ControlPlaneRole, Envelope } from '../../../src/consensus/shape/core/index.js'
import type { ConfChange } from '../../../src/consensus/core/types.js'
import { newSigner, restoredMachine } from './helpers.js'

const CLUSTER = 'cluster-1'
const MASTER: ControlPlaneRole[] = ['api-server', 'etcd', 'scheduler', 'controller-manager']

describe('a voter replaced in one command (promote … replacing)', () => {
  let a: Signer
  let b: string, c: string, d: string
  beforeAll(async () => {
    a = await newSigner()
    ;[b, c, d] = (await Promise.all([newSigner(), newSigner(), newSigner()])).map((s) => s.nodeId).sort() as [string, string, string]
  })

  /** ha-three: a holds every role, b and c api-server and etcd; d is a learner/worker. */
  const machine = (): ShapeMachine => restoredMachine(CLUSTER, [[a.nodeId, MASTER], [b, ['api-server', 'etcd']], [c, ['api-server', 'etcd']], [d, []]],
    { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 0 })

  function signed (command: unknown): Uint8Array {
    const envelope = { v: 1, clusterId: CLUSTER, command, reason: 'replacing-failed', proposer: a.nodeId, proposalId: { clientId: 'x', seq: 1 }, proposedAtMs: 1 }
    const { bytes, cid } = envelopeBytesAndCid(envelope as Envelope)
    return encodeSignedProposal(bytes, a.sign('proposal', CLUSTER, cid))
  }

  it('should move the old voter out and the new one in with one joint configuration change, never through 2 voters', () => {
    const m = machine()
    const command = { kind: 'promote', nodeId: d, roles: MASTER, replacing: a.nodeId } as Command
    const built = new ShapeProposer(a, CLUSTER, 'leader').build(m.shape, command, 'replacing-failed', 1)
    const expected: ConfChange = { steps: [{ type: 'add-voter', nodeId: d }, { type: 'add-learner', nodeId: a.nodeId }], transition: 'auto', enterJoint: true }
    expect(built.confChange).toEqual(expected)
    const conf = { voters: [a.nodeId, b, c], votersOutgoing: [] as string[], learners: [d], learnersNext: [] as string[], autoLeave: false }
    expect(deriveConfChange(m.shape, built.bytes, conf)).toEqual(expected)
    const counts: number[] = [m.shape.voters().length]
    m.onChange((shape) => counts.push(shape.voters().length))
    const { result } = m.apply(built.bytes, { index: 10, term: 2, timeMs: 0, confChange: expected })
    expect(result.outcome).toEqual({ kind: 'applied' })
    expect(m.shape.voters()).toEqual([b, c, d].sort())
    expect(MASTER.map((role) => [m.shape.holds(a.nodeId, role), m.shape.holds(d, role)])).toEqual(MASTER.map(() => [false, true]))
    expect(counts).toEqual([3, 3])
    // Without its configuration change, or with one that moves only half of it: refused.
    expect(machine().apply(built.bytes, { index: 10, term: 2, timeMs: 0 }).result.outcome).toMatchObject({ kind: 'rejected', code: 'voters-not-moved' })
    const half: ConfChange = { steps: [{ type: 'add-learner', nodeId: a.nodeId }], transition: 'auto', enterJoint: true }
    expect(machine().apply(built.bytes, { index: 10, term: 2, timeMs: 0, confChange: half }).result.outcome).toMatchObject({ kind: 'rejected', code: 'voter-mismatch' })
  })

  it('should refuse it whole when the replaced node does not hold every role given, or is unknown', () => {
    const shape = machine().shape
    expect(transition(shape, { kind: 'promote', nodeId: d, roles: MASTER, replacing: b } as Command)).toMatchObject({ kind: 'rejected', code: 'role-not-held' })
    expect(transition(shape, { kind: 'promote', nodeId: d, roles: ['etcd'], replacing: 'nobody' } as Command)).toMatchObject({ kind: 'rejected', code: 'unknown-node' })
    expect(transition(shape, { kind: 'promote', nodeId: b, roles: ['etcd'], replacing: a.nodeId } as Command)).toMatchObject({ kind: 'rejected', code: 'role-already-held' })
    // Only the roles named leave the replaced node.
    const partial = transition(shape, { kind: 'promote', nodeId: d, roles: ['api-server', 'etcd'], replacing: a.nodeId } as Command)
    expect(partial.kind === 'applied' && [partial.shape.holds(a.nodeId, 'scheduler'), partial.shape.holds(a.nodeId, 'etcd'), partial.shape.voters().length]).toEqual([true, false, 3])
  })

  it('should decode replacing only on an unpinned promote without with, naming another node', () => {
    const decodes = (command: unknown): boolean => decodeSignedProposal(signed(command)) !== null
    expect(decodes({ kind: 'promote', nodeId: d, roles: ['etcd'], replacing: b })).toBe(true)
    expect(decodeSignedProposal(signed({ kind: 'promote', nodeId: d, roles: ['etcd'], replacing: b }))?.envelope).toMatchObject({ command: { kind: 'promote', nodeId: d, roles: ['etcd'], replacing: b } })
    expect(decodes({ kind: 'promote', nodeId: d, roles: ['etcd'], replacing: d })).toBe(false)
    expect(decodes({ kind: 'promote', nodeId: d, roles: ['etcd'], replacing: b, pin: true })).toBe(false)
    expect(decodes({ kind: 'promote', nodeId: d, roles: ['etcd'], replacing: b, with: [c] })).toBe(false)
    expect(decodes({ kind: 'promote', nodeId: d, roles: ['etcd'], replacing: '' })).toBe(false)
    expect(decodes({ kind: 'promote', nodeId: d, roles: ['etcd'], replacing: [b] })).toBe(false)
    expect(decodes({ kind: 'demote', nodeId: d, roles: ['etcd'], replacing: b })).toBe(false)
  })
})
