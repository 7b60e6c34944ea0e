/**
 * @module test/fuzz/targets/signed-proposal-roles
 * The role commands of the signed-proposal target that carry the operator's intent or move a voter in one
 * command — `pin: true` on promote and demote, `unpin` (with and without roles), `rejoin`, `promote …
 * replacing` — valid and not (unknown, removed and quarantined nodes, self-replacement, replacing a node that
 * does not hold the roles, empty and duplicate role lists, pins on roles not held, `replacing` with `pin` or
 * `with`), the sequences that reach the interesting states (a member added, promoted, pinned, demoted,
 * unpinned; a voter that rejoins, is removed, rejoins again; a replacement below and at PROTOCOL_REPLACEMENT),
 * and what the target checks of roles, pins and voters after each entry.
 *
 * Checked by oracles of their own (a model of the commands' effects as docs/ENCODING.md, docs/POLICY.md
 * "Operator intent" and types.ts state them; never transition() or the shape's own invariant check):
 * - an applied command leaves exactly the members, roles, pins, removed list and target the model gives
 *   (a plain change of a role clears its pin, `pin` sets it; unpin drops only the named pins; quarantine and
 *   removal drop a node's pins; rejoin drops the etcd role and its pin; a replacement moves exactly the named
 *   roles from the replaced node, their pins dropped);
 * - commands the docs say are refused are rejected (unknown node, removed node re-added, rejoin signed by
 *   another node, unpin without a pin, replacing a node that does not hold every role named, …);
 * - commands the docs say apply do, unless the envelope or its configuration change is refused (an unpin of a
 *   pin, a pinned promote of held roles "just pins", a pinned demote of roles not held, a self-signed rejoin of
 *   a member that is not the last voter, a well-formed replacement at any protocol level);
 * - every pin agrees with the roles (holds ⇔ the node holds the role); a non-empty shape has 1 to
 *   MAX_ETCD_HOLDERS voters; an entry without a configuration change never moves a voter, and one with a
 *   change moves exactly the voters its steps name.
 */
import type { ConfChange } from '../../../src/consensus/core/index.js'
import { CONTROL_PLANE_ROLES, MAX_ETCD_HOLDERS, MAX_ROLE_HOLDERS, PROTOCOL_REPLACEMENT } from '../../../src/consensus/shape/core/index.js'
import type { Command, ControlPlaneRole, MeshShape, Outcome, SignedProposal } from '../../../src/consensus/shape/core/index.js'
import type { FuzzRng } from '../rng.js'
import { invariant } from '../target.js'

/** Ids no shape holds (the envelope decodes the first three; '' and 129 characters are malformed). */
const STRANGERS = ['unknown-node', 'x', 'zz-not-a-peer', '', 'z'.repeat(129)]

/** The fuzzer's view of the cluster while it builds one input: the nodes it can name. */
export interface RoleView {
  /** Signer ids (they can propose and rejoin), members or not. */
  signers: readonly string[]
  /** Members of the shape the generator tracks (a guess: a damaged entry may not have applied). */
  members: readonly string[]
  /** Members removed so far (the tracked shape's). */
  removed: readonly string[]
  /** Etcd holders of the tracked shape. */
  voters: readonly string[]
  /** Nodes of the tracked shape and the control-plane roles each holds. */
  rolesOf: (id: string) => ControlPlaneRole[]
}

/** A role list: usually distinct roles in canonical order, sometimes empty, repeated, or out of order. */
function roleList (rng: FuzzRng, prefer?: readonly ControlPlaneRole[]): ControlPlaneRole[] {
  const roll = rng.int(20)
  if (roll === 0) return []
  if (roll === 1) { const r = rng.pick(CONTROL_PLANE_ROLES); return [r, r] }
  if (roll === 2) return [...CONTROL_PLANE_ROLES].reverse()
  if (prefer !== undefined && prefer.length > 0 && roll < 12) return CONTROL_PLANE_ROLES.filter((r) => prefer.includes(r) && (prefer.length === 1 || rng.chance(0.7)))
  const roles = CONTROL_PLANE_ROLES.filter(() => rng.chance(0.4))
  return roles.length > 0 ? roles : ['etcd']
}

/** A node to name: mostly a member, else a signer that is not one, a removed node, or a stranger. */
function someNode (rng: FuzzRng, view: RoleView): string {
  const roll = rng.int(10)
  if (roll < 6 && view.members.length > 0) return rng.pick(view.members)
  if (roll < 8) return rng.pick(view.signers)
  if (roll < 9 && view.removed.length > 0) return rng.pick(view.removed)
  return rng.pick(STRANGERS)
}

/** One of the commands this module covers, at random (the target's `command` draws it a third of the time). */
export function roleCommand (rng: FuzzRng, view: RoleView): Command {
  const nodeId = someNode(rng, view)
  const held = view.rolesOf(nodeId)
  switch (rng.int(6)) {
    case 0: return { kind: 'promote', nodeId, roles: roleList(rng, rng.chance(0.5) ? held : undefined), pin: true }
    case 1: return { kind: 'demote', nodeId, roles: roleList(rng, rng.chance(0.6) ? held : undefined), pin: true }
    case 2: return rng.chance(0.3) ? { kind: 'unpin', nodeId } : { kind: 'unpin', nodeId, roles: roleList(rng, held) }
    case 3: return { kind: 'rejoin', nodeId }
    default: return replacement(rng, view, nodeId)
  }
}

/**
 * `promote nodeId replacing r`: r a voter (or a holder of the roles) most of the time; else a member that
 * does not hold them, nodeId itself, a removed node or a stranger; now and then with `pin` or `with` (both
 * malformed with `replacing`).
 */
function replacement (rng: FuzzRng, view: RoleView, nodeId: string): Command {
  const voters = view.voters.filter((v) => v !== nodeId)
  const roll = rng.int(10)
  let replacing: string
  if (roll < 6 && voters.length > 0) replacing = rng.pick(voters)
  else if (roll < 7) replacing = nodeId
  else if (roll < 8 && view.removed.length > 0) replacing = rng.pick(view.removed)
  else replacing = someNode(rng, view)
  const roles = rng.chance(0.7) ? ['etcd' as const] : roleList(rng, view.rolesOf(replacing))
  const command: Command = { kind: 'promote', nodeId, roles, replacing }
  if (rng.chance(0.05)) return { ...command, pin: true }
  if (rng.chance(0.05)) return { ...command, with: [rng.pick(view.signers)] }
  return command
}

/** A step of a scenario: the command and, when it matters (rejoin), who signs it. */
export interface ScenarioStep {
  command: Command
  signer?: string
}

/**
 * A sequence that reaches a state random commands seldom make. `next(view)` is called for each step with
 * the view the steps before left (as far as the generator can tell), so later steps name what earlier ones made.
 */
export type Scenario = Array<(view: RoleView) => ScenarioStep>

/**
 * One of three scenarios, for node `fresh` (a signer that is not a member yet, or a member):
 * - pins: add `fresh`, promote it (pinned or not), then pinned and plain promotes and demotes (held roles and
 *   not), unpins of some roles, of roles without a pin and of all, a quarantine and restore;
 * - rejoin: promote `fresh` to etcd (pinned or not), it rejoins (signed by itself, now and then by another),
 *   then it is demoted and removed, and rejoins or is added again (both refused);
 * - replacement: raise to a level below, at or above PROTOCOL_REPLACEMENT (or none), add `fresh`, promote it
 *   `replacing` a voter (or a non-voter, itself, a removed node), then promote or demote around it.
 */
export function roleScenario (rng: FuzzRng, fresh: string): { steps: Scenario, level?: number } {
  const add: Scenario[number] = () => ({ command: { kind: 'add-member', nodeId: fresh } })
  switch (rng.int(3)) {
    case 0: {
      const first: ControlPlaneRole[] = rng.chance(0.5) ? ['etcd'] : roleList(rng)
      const steps: Scenario = [add, () => ({ command: rng.chance(0.6) ? { kind: 'promote', nodeId: fresh, roles: first, pin: true } : { kind: 'promote', nodeId: fresh, roles: first } })]
      for (let i = 1 + rng.int(4); i > 0; i--) {
        steps.push((view) => {
          const held = view.rolesOf(fresh)
          const roll = rng.int(8)
          if (roll === 0) return { command: { kind: 'promote', nodeId: fresh, roles: roleList(rng, rng.chance(0.5) ? held : undefined), pin: true } }
          if (roll === 1) return { command: { kind: 'demote', nodeId: fresh, roles: roleList(rng, held), pin: true } }
          if (roll === 2) return { command: { kind: 'demote', nodeId: fresh, roles: roleList(rng, held) } }
          if (roll === 3) return { command: { kind: 'promote', nodeId: fresh, roles: roleList(rng) } }
          if (roll === 4) return { command: { kind: 'unpin', nodeId: fresh } }
          if (roll === 5) return { command: rng.chance(0.8) ? { kind: 'quarantine', nodeId: fresh } : { kind: 'restore', nodeId: fresh } }
          return { command: { kind: 'unpin', nodeId: fresh, roles: roleList(rng, held) } }
        })
      }
      return { steps }
    }
    case 1: {
      const roles: ControlPlaneRole[] = rng.chance(0.5) ? ['etcd'] : ['api-server', 'etcd']
      const steps: Scenario = [add, () => ({ command: rng.chance(0.5) ? { kind: 'promote', nodeId: fresh, roles, pin: true } : { kind: 'promote', nodeId: fresh, roles } })]
      steps.push((view) => ({ command: { kind: 'rejoin', nodeId: fresh }, signer: rng.chance(0.85) ? fresh : rng.pick(view.signers) }))
      if (rng.chance(0.6)) {
        // Its other roles go first (a removal of a control-plane holder is refused); none left: straight to the removal.
        steps.push((view) => {
          const held = CONTROL_PLANE_ROLES.filter((r) => view.rolesOf(fresh).includes(r))
          return { command: held.length > 0 ? { kind: 'demote', nodeId: fresh, roles: held } : { kind: 'remove-member', nodeId: fresh } }
        })
        steps.push(() => ({ command: { kind: 'remove-member', nodeId: fresh } }))
        steps.push(() => rng.chance(0.5) ? { command: { kind: 'rejoin', nodeId: fresh }, signer: fresh } : { command: { kind: 'add-member', nodeId: fresh } })
      } else {
        steps.push(() => ({ command: { kind: 'rejoin', nodeId: fresh }, signer: fresh }))
      }
      return { steps }
    }
    default: {
      const level = rng.chance(0.8) ? PROTOCOL_REPLACEMENT - 1 + rng.int(3) : undefined
      const steps: Scenario = [add, (view) => ({ command: replacement(rng, view, fresh) })]
      if (rng.chance(0.5)) {
        steps.push((view) => ({ command: rng.chance(0.5) ? { kind: 'promote', nodeId: fresh, roles: ['etcd'] } : { kind: 'demote', nodeId: someNode(rng, view), roles: ['etcd'], ...(rng.chance(0.5) ? { pin: true as const } : {}) } }))
      }
      return { steps, ...(level !== undefined ? { level } : {}) }
    }
  }
}

// ---- the oracle ----

/** The shape as plain data, read from its canonical encoding: stored roles, pins, removed ids, target. */
interface Model {
  members: Map<string, Set<string>>
  /** `${id} ${role}` → holds. */
  pins: Map<string, boolean>
  removed: string[]
  target: string
}

function modelOf (shape: MeshShape): Model {
  const data = shape.toData()
  return {
    members: new Map(data.members.map(([id, roles]) => [id, new Set<string>(roles)])),
    pins: new Map((data.pins ?? []).map(([id, role, holds]) => [`${id} ${role}`, holds])),
    removed: [...(data.removed ?? [])],
    target: JSON.stringify(data.target)
  }
}

function cloneModel (m: Model): Model {
  return { members: new Map([...m.members].map(([id, roles]) => [id, new Set(roles)])), pins: new Map(m.pins), removed: [...m.removed], target: m.target }
}

function render (m: Model): string {
  const members = [...m.members].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([id, roles]) => `${id}:${[...roles].sort().join('+')}`)
  const pins = [...m.pins].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([key, holds]) => `${key}=${String(holds)}`)
  return JSON.stringify({ members, pins, removed: m.removed, target: m.target })
}

const holdsRole = (m: Model, id: string, role: string): boolean => m.members.get(id)?.has(role) === true
const etcdHolders = (m: Model): string[] => [...m.members].filter(([, roles]) => roles.has('etcd')).map(([id]) => id).sort()
const pinsOfNode = (m: Model, id: string): string[] => [...m.pins.keys()].filter((k) => k.startsWith(`${id} `))

function setPin (m: Model, id: string, roles: readonly string[], holds: boolean | undefined): void {
  for (const role of roles) {
    if (holds === undefined) m.pins.delete(`${id} ${role}`)
    else m.pins.set(`${id} ${role}`, holds)
  }
}

/** The model after `command` applied (only called when the entry applied). */
function effect (before: Model, command: Command): Model {
  const m = cloneModel(before)
  switch (command.kind) {
    case 'add-member': m.members.set(command.nodeId, new Set()); break
    case 'remove-member':
      m.members.delete(command.nodeId)
      for (const key of pinsOfNode(m, command.nodeId)) m.pins.delete(key)
      m.removed.push(command.nodeId)
      break
    case 'promote':
      if (command.replacing !== undefined) {
        for (const role of command.roles) m.members.get(command.replacing)?.delete(role)
        setPin(m, command.replacing, command.roles, undefined)
      }
      for (const id of [command.nodeId, ...(command.with ?? [])]) {
        for (const role of command.roles) m.members.get(id)?.add(role)
        setPin(m, id, command.roles, command.pin === true ? true : undefined)
      }
      break
    case 'demote':
      for (const role of command.roles) m.members.get(command.nodeId)?.delete(role)
      setPin(m, command.nodeId, command.roles, command.pin === true ? false : undefined)
      break
    case 'unpin': setPin(m, command.nodeId, command.roles ?? CONTROL_PLANE_ROLES, undefined); break
    case 'quarantine':
      m.members.set(command.nodeId, new Set(['quarantined']))
      for (const key of pinsOfNode(m, command.nodeId)) m.pins.delete(key)
      break
    case 'restore': m.members.get(command.nodeId)?.delete('quarantined'); break
    case 'rejoin':
      m.members.get(command.nodeId)?.delete('etcd')
      setPin(m, command.nodeId, ['etcd'], undefined)
      break
    case 'set-target': m.target = JSON.stringify(command.target); break
    case 'bootstrap': case 'set-protocol': case 'set-catalog': break
  }
  return m
}

/** Why the docs say `command` is refused on `m` (proposed by `proposer`), or null when they do not say it is. */
function mustReject (m: Model, command: Command, proposer: string): string | null {
  const member = (id: string): boolean => m.members.has(id)
  const quarantined = (id: string): boolean => holdsRole(m, id, 'quarantined')
  switch (command.kind) {
    case 'bootstrap': return m.members.size > 0 ? 'bootstrap on a non-empty shape' : null
    case 'add-member':
      if (member(command.nodeId)) return 'add-member of a member'
      return m.removed.includes(command.nodeId) ? 'add-member of a removed node' : null
    case 'set-target': return command.target.etcd < 1 ? 'a target without etcd' : null
    case 'set-protocol': case 'set-catalog': return null
    default: break
  }
  if (!member(command.nodeId)) return `${command.kind} of a non-member`
  switch (command.kind) {
    case 'remove-member': return CONTROL_PLANE_ROLES.some((r) => holdsRole(m, command.nodeId, r)) ? 'removal of a control-plane holder' : null
    case 'promote': {
      const nodes = [command.nodeId, ...(command.with ?? [])]
      if (nodes.some((id) => !member(id))) return 'promote of a non-member'
      if (nodes.some(quarantined)) return 'promote of a quarantined node'
      if (command.pin !== true && nodes.some((id) => command.roles.some((r) => holdsRole(m, id, r)))) return 'plain promote of a role held'
      if (command.replacing !== undefined && !command.roles.every((r) => holdsRole(m, command.replacing as string, r))) return 'replacing a node that does not hold every role named'
      return null
    }
    case 'demote': return command.pin !== true && !command.roles.every((r) => holdsRole(m, command.nodeId, r)) ? 'plain demote of a role not held' : null
    case 'unpin': return (command.roles ?? CONTROL_PLANE_ROLES).every((r) => !m.pins.has(`${command.nodeId} ${r}`)) ? 'unpin without a pin' : null
    case 'quarantine': return quarantined(command.nodeId) ? 'quarantine of a quarantined node' : null
    case 'restore': return !quarantined(command.nodeId) ? 'restore of a node not quarantined' : null
    case 'rejoin': return proposer !== command.nodeId ? 'rejoin signed by another node' : null
  }
}

/**
 * Refusals of a decoded envelope (its signature checked: `malformed` and `wrong-cluster` come before that, and
 * leave no proposal to judge) or of the configuration change it travels in: the only ones mustApply allows.
 */
const ENTRY_REFUSALS: readonly string[] = ['bad-signature', 'unknown-proposer', 'voter-mismatch', 'voters-not-moved']

/** Why the docs say `command` applies on `m` (unless its entry is refused), or null when they do not say so. */
function mustApply (m: Model, command: Command, proposer: string): string | null {
  const id = 'nodeId' in command ? command.nodeId : ''
  if (!m.members.has(id)) return null
  const quarantined = holdsRole(m, id, 'quarantined')
  switch (command.kind) {
    case 'unpin': return (command.roles ?? CONTROL_PLANE_ROLES).some((r) => m.pins.has(`${id} ${r}`)) ? 'an unpin of a pin' : null
    case 'promote':
      if (quarantined || command.with !== undefined) return null
      if (command.replacing === undefined) {
        if (command.pin === true && command.roles.every((r) => holdsRole(m, id, r))) return 'a pinned promote of roles held (it just pins)'
        // A plain change supersedes an earlier pin (docs/POLICY.md): a node pinned away from a role is promoted to it.
        const room = command.roles.every((r) => [...m.members.values()].filter((roles) => roles.has(r)).length < (r === 'etcd' ? MAX_ETCD_HOLDERS : MAX_ROLE_HOLDERS))
        return command.pin !== true && room && command.roles.every((r) => !holdsRole(m, id, r)) ? 'a plain promote of roles not held, within the limits' : null
      }
      return command.pin !== true && m.members.has(command.replacing) && command.roles.every((r) => holdsRole(m, command.replacing as string, r) && !holdsRole(m, id, r))
        ? 'a well-formed replacement' : null
    case 'demote':
      if (command.pin === true) return command.roles.every((r) => !holdsRole(m, id, r)) ? 'a pinned demote of roles not held' : null
      // Pinned or not, a held role is given up by a plain demote (its pin goes with it), unless it is the last voter's etcd.
      return command.roles.every((r) => holdsRole(m, id, r)) && (!command.roles.includes('etcd') || etcdHolders(m).length > 1) ? 'a plain demote of roles held, not the last voter' : null
    case 'rejoin': return proposer === id && (!holdsRole(m, id, 'etcd') || etcdHolders(m).length > 1) ? 'a self-signed rejoin of a member, not the last voter' : null
    default: return null
  }
}

/** How often the oracle saw each interesting case applied (for the docs' reachability figures; never reset by the target). */
export const ROLE_STATS = { pinnedDemoteOfPinnedHolder: 0, unpinApplied: 0, partialUnpinApplied: 0, rejoinApplied: 0, rejoinOfVoterApplied: 0, replacementApplied: 0, replacementBelowLevel: 0, replacementRejected: 0, removedThenRefused: 0, pinOnlyPromoteApplied: 0, pinAwayDemoteApplied: 0, mustRejectSeen: 0, mustApplySeen: 0 }

function count (before: Model, command: Command, applied: boolean, level: number): void {
  if (command.kind === 'unpin' && applied) { ROLE_STATS.unpinApplied++; if (command.roles !== undefined && pinsOfNode(before, command.nodeId).length > command.roles.filter((r) => before.pins.has(`${command.nodeId} ${r}`)).length) ROLE_STATS.partialUnpinApplied++ }
  if (command.kind === 'demote' && applied && command.pin !== true && command.roles.some((r) => before.pins.get(`${command.nodeId} ${r}`) === true)) ROLE_STATS.pinnedDemoteOfPinnedHolder++
  if (command.kind === 'rejoin' && applied) { ROLE_STATS.rejoinApplied++; if (holdsRole(before, command.nodeId, 'etcd')) ROLE_STATS.rejoinOfVoterApplied++ }
  if (command.kind === 'promote' && command.replacing !== undefined) {
    if (applied) { ROLE_STATS.replacementApplied++; if (level < PROTOCOL_REPLACEMENT) ROLE_STATS.replacementBelowLevel++ } else ROLE_STATS.replacementRejected++
  }
  if ((command.kind === 'rejoin' || command.kind === 'add-member') && before.removed.includes(command.nodeId) && !applied) ROLE_STATS.removedThenRefused++
  if (command.kind === 'promote' && applied && command.pin === true && command.roles.every((r) => holdsRole(before, command.nodeId, r))) ROLE_STATS.pinOnlyPromoteApplied++
  if (command.kind === 'demote' && applied && command.pin === true && command.roles.every((r) => !holdsRole(before, command.nodeId, r))) ROLE_STATS.pinAwayDemoteApplied++
}

/** The voters a configuration change leaves: a voter stays unless a step removes it, a non-voter enters if a step adds it as a voter. */
function votersAfterChange (voters: readonly string[], change: ConfChange, ids: Iterable<string>): string[] | null {
  const steps: unknown = change.steps
  if (!Array.isArray(steps)) return null
  const out = new Set<string>()
  const candidates = new Set([...voters, ...ids])
  for (const step of steps as unknown[]) {
    const s = step as { type?: unknown, nodeId?: unknown } | null
    if (typeof s !== 'object' || s === null || typeof s.nodeId !== 'string' || !['add-voter', 'add-learner', 'remove'].includes(s.type as string)) return null
    candidates.add(s.nodeId)
  }
  for (const id of candidates) {
    const named = (steps as Array<{ type: string, nodeId: string }>).filter((s) => s.nodeId === id)
    if (voters.includes(id) ? !named.some((s) => s.type !== 'add-voter') : named.some((s) => s.type === 'add-voter')) out.add(id)
  }
  return [...out].sort()
}

/**
 * Checks roles, pins and voters after one entry: `before` is the shape it was applied to, `proposal` the
 * one it decoded (if any), `change` the configuration change it travelled in (if any).
 */
export function checkRoles (before: MeshShape, after: MeshShape, outcome: Outcome, proposal: SignedProposal | null, change: ConfChange | null): void {
  const was = modelOf(before)
  const now = modelOf(after)
  for (const [key, holds] of now.pins) {
    const [id, role] = key.split(' ') as [string, string]
    invariant(now.members.has(id) && holdsRole(now, id, role) === holds, () => `pin ${key}=${String(holds)} disagrees with the roles: ${render(now)}`)
  }
  const voters = etcdHolders(now)
  if (now.members.size > 0) invariant(voters.length >= 1 && voters.length <= MAX_ETCD_HOLDERS, () => `${voters.length} voters: ${render(now)}`)
  const applied = outcome.kind === 'applied'
  if (applied) {
    const expected = change === null ? etcdHolders(was) : votersAfterChange(etcdHolders(was), change, now.members.keys())
    invariant(expected !== null, 'an entry applied with a malformed configuration change')
    invariant(expected.join(',') === voters.join(','), () => `voters ${etcdHolders(was).join(',')} → ${voters.join(',')}, the entry's change (${change === null ? 'none' : JSON.stringify(change.steps)}) gives ${expected.join(',')}`)
  }
  const envelope = proposal?.envelope
  if (envelope?.v !== 1) return
  const command = envelope.command
  count(was, command, applied, before.protocol)
  if (applied) {
    const model = effect(was, command)
    invariant(render(model) === render(now), () => `${JSON.stringify(command)} applied: the shape holds ${render(now)}, the commands' rules give ${render(model)}`)
  }
  const refused = mustReject(was, command, envelope.proposer)
  if (refused !== null) ROLE_STATS.mustRejectSeen++
  invariant(refused === null || !applied, () => `${JSON.stringify(command)} applied though it is ${refused ?? ''} (shape before: ${render(was)})`)
  const applies = mustApply(was, command, envelope.proposer)
  if (applies !== null && applied) ROLE_STATS.mustApplySeen++
  invariant(applies === null || applied || ENTRY_REFUSALS.includes(outcome.code), () =>
    `${JSON.stringify(command)} rejected (${outcome.kind === 'rejected' ? `${outcome.code}: ${outcome.message}` : ''}) though it is ${applies ?? ''} (shape before: ${render(was)})`)
}
