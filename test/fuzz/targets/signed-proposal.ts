/**
 * @module test/fuzz/targets/signed-proposal
 * Committed MeshShape commands as a hostile or buggy member could get them committed: signed envelopes
 * (validly signed by a member, by a non-member, or badly signed; joined promotions `promote … with` too),
 * each with the configuration change its entry carries (decoded by the core's decodeConfChange, as the
 * driver does), applied in order to one ShapeMachine. Input: frames in pairs (signed proposal bytes, conf-change bytes or empty).
 * Commands include `set-catalog` with canonical, non-canonical and garbage template CIDs
 * (signed-proposal-catalog.ts), judged by the protocol level the entries before raised the shape to, and
 * every other kind and optional field: `pin`, `unpin`, `rejoin`, `promote … replacing`
 * (signed-proposal-roles.ts). The generator follows the shape its entries make (transition on its own copy),
 * so that sequences get the configuration change each entry needs and name the nodes earlier ones made.
 *
 * Apply is total: every entry yields a typed result; a rejected one leaves the shape's CID unchanged;
 * the shape's invariants hold after each, and its catalog checks (signed-proposal-catalog.ts checkCatalog)
 * and role, pin and voter checks (signed-proposal-roles.ts checkRoles); a replica that applies the same
 * entries (restored from the shape's snapshot halfway) has the same results and CID after each; two
 * shadows at other protocol levels (1 and the build's) that apply every entry but `set-protocol` and
 * `set-catalog` have the same outcomes, members, roles, pins, removed list and target (docs/CONSENSUS.md:
 * apply judges by level only the catalog); the snapshot restores to the same CID.
 */
import { encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { decodeConfChange, encodeConfChange } from '../../../src/consensus/core/index.js'
import type { ConfChange } from '../../../src/consensus/core/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import {
  CONTROL_PLANE_ROLES, decodeSignedProposal, encodeSignedProposal, envelopeBytesAndCid, isUnknownReasonAtLevel, MeshShape, PROTOCOL_CANONICAL_CATALOG, PROTOCOL_LEVEL,
  PROTOCOL_LEVEL_MIN, PROTOCOL_SEAL_HANDOVER, REASONS,
  requiredConfChange, transition
} from '../../../src/consensus/shape/core/index.js'
import type { ApplyResult, Command, Envelope } from '../../../src/consensus/shape/core/index.js'
import { joinFrames, splitFrames } from '../frames.js'
import { fixedSigners } from '../keys.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'
import { damageValue, wildValue } from '../values.js'
import { catalogCommand, checkCatalog } from './signed-proposal-catalog.js'
import { checkRoles, roleCommand, roleScenario } from './signed-proposal-roles.js'
import type { RoleView } from './signed-proposal-roles.js'

const CLUSTER = 'cluster-1'
let signers: Signer[] = []

/** Entries one input holds at most (two frames each). */
const MAX_ENTRIES = 8

/** Members 0 (every role), 1 (worker), 2 (etcd); signers 3 to 5 are not members. */
function initialShape (): MeshShape {
  const [a, b, c] = signers.map((s) => s.nodeId)
  return MeshShape.fromData({ members: [[a as string, [...CONTROL_PLANE_ROLES]], [b as string, []], [c as string, ['etcd']]].sort((x, y) => String(x[0]).localeCompare(String(y[0]))) as Array<[string, never[]]>, target: { apiServers: 1, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 1 } })
}

/** The shape the generator expects its entries to make (its own copy, moved by transition), to propose against. */
interface Tracked {
  shape: MeshShape
}

function viewOf (tracked: Tracked): RoleView {
  const { shape } = tracked
  return {
    signers: signers.map((s) => s.nodeId),
    members: shape.memberIds(),
    removed: shape.removed(),
    voters: shape.voters(),
    rolesOf: (id) => CONTROL_PLANE_ROLES.filter((r) => shape.holds(id, r))
  }
}

function command (rng: FuzzRng, tracked: Tracked): Command {
  const nodeId = rng.chance(0.8) ? rng.pick(signers).nodeId : rng.pick(['', 'x', 'unknown-node', 'z'.repeat(128)])
  const roles = CONTROL_PLANE_ROLES.filter(() => rng.chance(0.4))
  const pickedRoles = roles.length > 0 ? roles : ['etcd' as const]
  switch (rng.int(15)) {
    case 0: return { kind: 'add-member', nodeId }
    case 1: return { kind: 'remove-member', nodeId }
    case 2: return rng.chance(0.4) ? { kind: 'promote', nodeId, roles: pickedRoles, with: joinedWith(rng, nodeId) } : { kind: 'promote', nodeId, roles: pickedRoles }
    case 3: return { kind: 'demote', nodeId, roles: pickedRoles }
    case 4: return { kind: 'quarantine', nodeId }
    case 5: return { kind: 'restore', nodeId }
    case 6: return rng.chance(0.5) ? { kind: 'bootstrap', nodeId } : { kind: 'bootstrap', nodeId, protocol: rng.int(PROTOCOL_LEVEL + 3) }
    // Levels 0..build+2: malformed (0, 1), raised, not raised, or above the build's (the apply halts). Half
    // the time the level below or at PROTOCOL_CANONICAL_CATALOG, so set-catalogs meet both judgments and the raise.
    case 7: return { kind: 'set-protocol', level: rng.chance(0.5) ? PROTOCOL_CANONICAL_CATALOG - 1 + rng.int(2) : rng.int(PROTOCOL_LEVEL + 3) }
    case 8: case 9: return catalogCommand(rng)
    case 10: return { kind: 'set-target', target: { apiServers: rng.int(17), etcd: rng.int(8), schedulers: rng.int(17), controllerManagers: rng.int(17), minWorkers: rng.int(1025) } }
    // Pins, unpin, rejoin, replacement (signed-proposal-roles.ts), naming the nodes of the shape the entries before made.
    default: return roleCommand(rng, viewOf(tracked))
  }
}

/** A joined promotion's other nodes (issue 16): usually well-formed (ascending, distinct), sometimes not. */
function joinedWith (rng: FuzzRng, nodeId: string): string[] {
  const others = signers.map((s) => s.nodeId).filter((id) => id !== nodeId && rng.chance(0.5))
  const list = others.length > 0 ? others.sort() : [rng.pick(signers).nodeId]
  return rng.chance(0.8) ? list : [...list].reverse().concat(rng.chance(0.5) ? [nodeId] : [])
}

/**
 * An entry of `cmd` (a random one when not given): its signed proposal and its conf-change bytes, the change
 * the command needs on the tracked shape. Signed by a member of it (9 in 10), else by a non-member; a `rejoin`
 * mostly by its own node, or by `signer` when given. `noise` scales the odds of a damaged envelope, a bad
 * signature, another cluster and a wrong or damaged change (sequences that must reach a state use little).
 * The tracked shape moves when the entry is intact and its command applies there.
 */
function proposal (rng: FuzzRng, seq: number, tracked: Tracked, cmd: Command = command(rng, tracked), signerId?: string, noise = 1): [Uint8Array, Uint8Array] {
  const members = signers.filter((s) => tracked.shape.has(s.nodeId))
  const outsiders = signers.filter((s) => !tracked.shape.has(s.nodeId))
  const own = cmd.kind === 'rejoin' && rng.chance(0.8) ? signers.find((s) => s.nodeId === cmd.nodeId) : undefined
  const signer = signers.find((s) => s.nodeId === signerId) ?? own ??
    (rng.chance(0.9) && members.length > 0 ? rng.pick(members) : rng.pick(outsiders.length > 0 ? outsiders : signers))
  let intact = tracked.shape.has(signer.nodeId)
  const clusterId = rng.chance(0.05 * noise) ? 'other' : CLUSTER
  let envelope: unknown = {
    v: 1, clusterId, command: cmd, reason: rng.pick(REASONS), proposer: signer.nodeId,
    proposalId: { clientId: signer.nodeId, seq }, proposedAtMs: rng.int(2 ** 32)
  } satisfies Envelope
  if (rng.chance(0.3 * noise)) { envelope = damageValue(rng, envelope); intact = false }
  let bytes: Uint8Array
  try {
    const built = envelopeBytesAndCid(envelope as Envelope)
    const good = rng.chance(1 - 0.05 * noise)
    const signature = good ? signer.sign('proposal', CLUSTER, built.cid) : rng.bytes(64)
    bytes = encodeSignedProposal(built.bytes, signature)
    intact &&= good && clusterId === CLUSTER
  } catch {
    bytes = encodeCanonical(wildValue(rng) ?? null)
    intact = false
  }
  const required = cmd.kind === 'bootstrap' ? null : requiredConfChange(tracked.shape, cmd)
  let change: ConfChange | null = required !== null && required !== 'rejected' ? required : null
  if (rng.chance(0.2 * noise)) { change = { steps: [{ type: rng.pick(['add-voter', 'add-learner', 'remove'] as const), nodeId: rng.pick(signers).nodeId }], transition: 'auto', enterJoint: true }; intact = false }
  if (change !== null && rng.chance(0.2 * noise)) { change = damageValue(rng, change) as ConfChange; intact = false }
  let ccBytes: Uint8Array = new Uint8Array(0)
  if (change !== null) {
    try { ccBytes = encodeConfChange(change) } catch { ccBytes = new TextEncoder().encode(JSON.stringify({ steps: [null], transition: 'auto' })) }
  }
  if (intact && required !== 'rejected' && !(cmd.kind === 'rejoin' && cmd.nodeId !== signer.nodeId)) {
    try {
      const next = transition(tracked.shape, cmd)
      if (next.kind === 'applied') tracked.shape = next.shape
    } catch {
      // A level above the build's: the apply halts there, and the generator's shape stays.
    }
  }
  return [bytes, ccBytes]
}

/**
 * A catalog set below PROTOCOL_CANONICAL_CATALOG (any spelling of a valid CID applies), a raise to it (which
 * respells the catalog) or to the level below, another set-catalog: the order that reaches both judgments and
 * the raise, which random commands alone seldom make (in 3,000 inputs at seed 37 no raise met a non-canonical
 * catalog; with a quarter of the inputs made here, 13 did).
 */
function catalogEntries (rng: FuzzRng): Array<[Uint8Array, Uint8Array]> {
  const level = rng.chance(0.8) ? PROTOCOL_CANONICAL_CATALOG : PROTOCOL_CANONICAL_CATALOG - 1
  const tracked = { shape: initialShape() }
  return [proposal(rng, 1, tracked, catalogCommand(rng, 1)), proposal(rng, 2, tracked, { kind: 'set-protocol', level }), proposal(rng, 3, tracked, catalogCommand(rng))]
}

/**
 * A role scenario (signed-proposal-roles.ts roleScenario) for a signer not yet a member (4 in 5) or a
 * member, with little noise, now and then a random entry after it: the orders random commands seldom make
 * (a pinned holder demoted, a partial unpin, a voter's rejoin, a removed node's rejoin, a replacement at and
 * below its level). Figures in docs/FUZZING.md.
 */
function roleEntries (rng: FuzzRng): Array<[Uint8Array, Uint8Array]> {
  const tracked = { shape: initialShape() }
  const fresh = rng.chance(0.8) ? rng.pick(signers.slice(3)).nodeId : rng.pick(signers.slice(0, 3)).nodeId
  const { steps, level } = roleScenario(rng, fresh)
  const out: Array<[Uint8Array, Uint8Array]> = []
  if (level !== undefined) out.push(proposal(rng, out.length + 1, tracked, { kind: 'set-protocol', level }, undefined, 0.15))
  for (const step of steps) {
    const { command: cmd, signer } = step(viewOf(tracked))
    out.push(proposal(rng, out.length + 1, tracked, cmd, signer, 0.15))
  }
  if (out.length < MAX_ENTRIES && rng.chance(0.3)) out.push(proposal(rng, out.length + 1, tracked))
  return out.slice(0, MAX_ENTRIES)
}

/** A machine holding the initial shape at protocol level `level`. */
function machineAt (level: number): ShapeMachine {
  const machine = new ShapeMachine(CLUSTER)
  machine.restore(encodeCanonical({ ...initialShape().toData(), ...(level > PROTOCOL_LEVEL_MIN ? { protocol: level } : {}) }))
  return machine
}

/** What a shadow at another protocol level must agree on: everything but the level and the catalog. */
function levelFree (shape: MeshShape): string {
  const { members, target, pins, removed } = shape.toData()
  return JSON.stringify({ members, target, pins, removed })
}

/** Puts `shadow` on `machine`'s shape, keeping the shadow's own level and catalog (the level's own business). */
function resync (shadow: ShapeMachine, machine: ShapeMachine): void {
  const { protocol: _protocol, catalog: _catalog, ...rest } = machine.shape.toData()
  const own = shadow.shape.toData()
  shadow.restore(encodeCanonical({ ...rest, ...(own.catalog !== undefined ? { catalog: own.catalog } : {}), ...(own.protocol !== undefined ? { protocol: own.protocol } : {}) }))
}

const outcomeOf = (result: ApplyResult): string => result.outcome.kind === 'applied' ? 'applied' : `rejected ${result.outcome.code}`

export const signedProposalTarget: FuzzTarget = {
  name: 'signed-proposal',
  description: 'signed envelope + conf change → ShapeMachine.apply (total: typed result, shape invariants, snapshot round-trip)',
  typedErrors: [],
  async setup () {
    if (signers.length === 0) signers = await fixedSigners(6)
  },
  corpus: (rng) => [
    joinFrames(proposal(rng, 1, { shape: initialShape() })), joinFrames([...proposal(rng, 1, { shape: initialShape() }), ...proposal(rng, 2, { shape: initialShape() })]),
    joinFrames(catalogEntries(rng).flat()), joinFrames(roleEntries(rng).flat())
  ],
  generate: (rng) => {
    const roll = rng.int(20)
    if (roll < 5) return joinFrames(catalogEntries(rng).flat())
    if (roll < 12) return joinFrames(roleEntries(rng).flat())
    const tracked = { shape: initialShape() }
    return joinFrames(Array.from({ length: 1 + rng.int(6) }, (_, i) => proposal(rng, i + 1, tracked)).flat())
  },
  run (input) {
    const machine = machineAt(PROTOCOL_LEVEL_MIN)
    // Applies every entry too, from the shape's snapshot from the middle entry on: same results, same CID.
    const replica = machineAt(PROTOCOL_LEVEL_MIN)
    // Apply every entry but set-protocol and set-catalog (the level's own business) at a fixed level.
    const shadows = [machineAt(PROTOCOL_LEVEL_MIN), machineAt(PROTOCOL_LEVEL)]
    const frames = splitFrames(input, 0, 2 * MAX_ENTRIES)
    const handover = 2 * Math.floor(Math.ceil(frames.length / 2) / 2)
    for (let i = 0; i < frames.length; i += 2) {
      const ccBytes = frames[i + 1]
      const cc = ccBytes !== undefined && ccBytes.length > 0 ? decodeConfChange(ccBytes) : null
      const context = { index: i + 1, term: 1, timeMs: 0, ...(cc !== null ? { confChange: cc } : {}) }
      if (i === handover && i > 0) replica.restore(machine.snapshot())
      const before = machine.shapeCid()
      const beforeShape = machine.shape
      let applied: ReturnType<ShapeMachine['apply']>
      try {
        applied = machine.apply(frames[i] as Uint8Array, context)
      } catch (err) {
        // A protocol level above the build's: the one typed halt, and nothing written (the driver stops there).
        invariant((err as Error).name === 'ProtocolLevelUnsupportedError', () => `apply threw ${(err as Error).name}`)
        invariant(machine.shapeCid() === before, 'a halted apply changed the shape')
        let halted = ''
        try { replica.apply(frames[i] as Uint8Array, context) } catch (e) { halted = (e as Error).name }
        invariant(halted === (err as Error).name, () => `the replica did not halt where the shape did (${halted})`)
        break
      }
      const { result } = applied
      invariant(result.outcome.kind === 'applied' || result.outcome.kind === 'rejected', 'apply result without an outcome')
      if (result.outcome.kind === 'rejected') invariant(machine.shapeCid() === before, () => `rejected (${result.outcome.kind === 'rejected' ? result.outcome.code : ''}) but the shape changed`)
      invariant(machine.shape.invariantProblem() === null, () => `shape invariant broken: ${machine.shape.invariantProblem() ?? ''}`)
      checkCatalog(beforeShape, machine.shape, result.outcome.kind === 'applied', machine.lastProposal)
      checkRoles(beforeShape, machine.shape, result.outcome, machine.lastProposal, cc)
      const copied = replica.apply(frames[i] as Uint8Array, context).result
      invariant(JSON.stringify(copied) === JSON.stringify(result), () => `replica${i >= handover ? ' (from the snapshot)' : ''} got ${JSON.stringify(copied)}, the shape ${JSON.stringify(result)}`)
      invariant(replica.shapeCid() === machine.shapeCid(), () => `replica${i >= handover ? ' (from the snapshot)' : ''} diverged at entry ${i / 2 + 1}`)
      const kind = machine.lastProposal?.envelope.v === 1 ? machine.lastProposal.envelope.command.kind : ''
      if (kind === 'set-protocol' || kind === 'set-catalog') continue
      const signed = decodeSignedProposal(frames[i] as Uint8Array)
      if (signed !== null && isUnknownReasonAtLevel(signed, PROTOCOL_LEVEL_MIN)) {
        // A `quorum-recovery` reason is judged by level too: malformed below PROTOCOL_SEAL_HANDOVER, judged from it.
        const levelsOwn = signed.envelope.v === 1 && (signed.envelope.command.kind === 'set-protocol' || signed.envelope.command.kind === 'set-catalog')
        for (const m of levelsOwn ? [machine] : [machine, ...shadows]) {
          const outcome = m === machine ? outcomeOf(result) : outcomeOf(m.apply(frames[i] as Uint8Array, context).result)
          if (m.shape.protocol < PROTOCOL_SEAL_HANDOVER) invariant(outcome === 'rejected malformed', () => `a quorum-recovery reason at level ${m.shape.protocol} is ${outcome}`)
        }
        // The shadows follow the shape again (keeping their own level and catalog), whatever their level made of it.
        for (const shadow of shadows) resync(shadow, machine)
        continue
      }
      for (const shadow of shadows) {
        const shadowed = shadow.apply(frames[i] as Uint8Array, context).result
        invariant(outcomeOf(shadowed) === outcomeOf(result) && levelFree(shadow.shape) === levelFree(machine.shape), () =>
          `at level ${shadow.shape.protocol} (the shape's ${machine.shape.protocol}) entry ${i / 2 + 1} ${kind} is ${outcomeOf(shadowed)} (${outcomeOf(result)}) and leaves ${levelFree(shadow.shape)} (${levelFree(machine.shape)})`)
      }
    }
    const copy = new ShapeMachine(CLUSTER)
    copy.restore(machine.snapshot())
    invariant(copy.shapeCid() === machine.shapeCid(), 'shape snapshot does not restore to the same CID')
  }
}
