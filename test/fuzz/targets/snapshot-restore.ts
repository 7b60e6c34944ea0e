/**
 * @module test/fuzz/targets/snapshot-restore
 * A Raft snapshot's data as a follower restores it (an InstallSnapshot from the leader, or the newest
 * snapshot file at start), in SnapshotKeeper.restore's order: decodeNodeSnapshot → ShapeMachine.restore
 * → ProposalSessions.decode with the node's own result check (isAppliedRecord; RaftNode's tryDecode is
 * this decode returning null on SessionsDataInvalidError). Typed rejections: SnapshotDecodeError (not a
 * node snapshot), the codec's errors and ShapeDataInvalidError (bad machine bytes),
 * SessionsDataInvalidError (bad session table). A restored state must hold the shape's invariants and re-encode to bytes
 * that restore to the same state.
 */
import { encodeCanonical } from '../../../src/codec/index.js'
import { ProposalSessions } from '../../../src/consensus/core/index.js'
import { SnapshotDecodeError } from '../../../src/consensus/errors.js'
import { decodeNodeSnapshot, encodeNodeSnapshot, isAppliedRecord } from '../../../src/consensus/node-snapshot.js'
import type { AppliedRecord } from '../../../src/consensus/node-snapshot.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { CONTROL_PLANE_ROLES } from '../../../src/consensus/shape/core/index.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'
import { damageValue, encodeValue } from '../values.js'

const CLUSTER = 'cluster-1'

function shapeData (rng: FuzzRng): { members: Array<[string, string[]]>, target: Record<string, number> } {
  const members: Array<[string, string[]]> = [['node-a', [...CONTROL_PLANE_ROLES]], ['node-b', []]]
  if (rng.chance(0.5)) members.push(['node-c', ['quarantined']])
  return { members, target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 1 } }
}

function sessionsData (rng: FuzzRng): unknown {
  const sessions = new ProposalSessions<AppliedRecord<unknown>>(4, 3)
  for (let i = 1; i <= rng.int(8); i++) sessions.record({ clientId: `client-${rng.int(5)}`, seq: i }, i, { index: i, term: 1, result: { ok: true } })
  return sessions.encode()
}

function snapshotBytes (rng: FuzzRng): Uint8Array {
  let machine = shapeData(rng) as unknown
  let sessions = sessionsData(rng) as unknown
  const roll = rng.int(4)
  if (roll === 1) machine = damageValue(rng, machine)
  if (roll === 2) sessions = damageValue(rng, sessions)
  let machineBytes: Uint8Array
  try { machineBytes = encodeCanonical(machine) } catch { machineBytes = encodeValue(rng, machine) }
  const outer = { v: 1, m: machineBytes, s: sessions }
  return roll === 3 ? encodeValue(rng, damageValue(rng, outer)) : encodeValue(rng, outer)
}

/** SnapshotKeeper.restore's decode steps (RaftNode.restoreSnapshot); returns the restored parts. */
export function restoreNodeSnapshot (data: Uint8Array): { machine: ShapeMachine, sessions: ProposalSessions<AppliedRecord<unknown>> } {
  const decoded = decodeNodeSnapshot(data)
  if (decoded === null) throw new SnapshotDecodeError('snapshot cannot be decoded')
  const machine = new ShapeMachine(CLUSTER)
  machine.restore(decoded.machine)
  const sessions = ProposalSessions.decode(decoded.sessions, isAppliedRecord)
  return { machine, sessions }
}

export const snapshotRestoreTarget: FuzzTarget = {
  name: 'snapshot-restore',
  description: 'node snapshot bytes → decodeNodeSnapshot → ShapeMachine.restore → ProposalSessions.decode',
  typedErrors: ['SnapshotDecodeError', 'MalformedEncodingError', 'NonCanonicalEncodingError', 'ShapeDataInvalidError', 'ProtocolLevelUnsupportedError', 'SessionsDataInvalidError'],
  corpus: (rng) => [snapshotBytes(rng), encodeNodeSnapshot({ machine: encodeCanonical(shapeData(rng)), sessions: sessionsData(rng) })],
  generate: (rng) => snapshotBytes(rng),
  run (input) {
    const { machine, sessions } = restoreNodeSnapshot(input)
    invariant(machine.shape.invariantProblem() === null, () => `restored shape breaks an invariant: ${machine.shape.invariantProblem() ?? ''}`)
    invariant(sessions.size <= sessions.maxClients, 'restored session table over its bound')
    const again = restoreNodeSnapshot(encodeNodeSnapshot({ machine: machine.snapshot(), sessions: sessions.encode() }))
    invariant(again.machine.shapeCid() === machine.shapeCid(), 'restored shape does not re-encode to itself')
    // A table that restores must keep working: recording the next proposal must not trip an assertion.
    const probe = { clientId: 'fuzz-probe', seq: 1 }
    if (sessions.lookup(probe).kind === 'new') sessions.record(probe, Number.MAX_SAFE_INTEGER, { index: Number.MAX_SAFE_INTEGER, term: 1, result: null })
  }
}

/**
 * The MeshShape part of a snapshot alone (ShapeMachine.restore on machine bytes), so that CI guards the
 * shape's own decoding while the session table's (issue 9 item 5) is pending.
 */
export const shapeRestoreTarget: FuzzTarget = {
  name: 'shape-restore',
  description: 'snapshot machine bytes → ShapeMachine.restore (typed codec/ShapeDataInvalidError or a shape that re-encodes to itself)',
  typedErrors: ['MalformedEncodingError', 'NonCanonicalEncodingError', 'ShapeDataInvalidError', 'ProtocolLevelUnsupportedError'],
  corpus: (rng) => [encodeCanonical(shapeData(rng)), encodeCanonical(shapeData(rng))],
  generate (rng) {
    const data = shapeData(rng)
    return rng.chance(0.8) ? encodeValue(rng, damageValue(rng, data)) : encodeCanonical(data)
  },
  run (input) {
    const machine = new ShapeMachine(CLUSTER)
    machine.restore(input)
    invariant(machine.shape.invariantProblem() === null, () => `restored shape breaks an invariant: ${machine.shape.invariantProblem() ?? ''}`)
    const copy = new ShapeMachine(CLUSTER)
    copy.restore(machine.snapshot())
    invariant(copy.shapeCid() === machine.shapeCid(), 'restored shape does not re-encode to itself')
  }
}
