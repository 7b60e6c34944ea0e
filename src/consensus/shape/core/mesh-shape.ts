/**
 * @module consensus/shape/core/mesh-shape
 * The MeshShape value: members → roles, plus the target topology. Immutable from the outside: apply()
 * computes a new shape on a copy, checks its invariants, then returns it (STYLE §8). Its canonical
 * encoding sorts members and roles, so equal shapes give equal bytes and equal CIDs on every node.
 */
import { assert } from '../../../util/assert.js'
import { CONTROL_PLANE_ROLES, ROLES, TARGET_PRESETS } from './types.js'
import type { CatalogTemplate, ControlPlaneRole, NodeId, Pin, Role, TargetTopology } from './types.js'
import { MAX_ETCD_HOLDERS, MAX_MEMBERS, MAX_REMOVED_REMEMBERED, MEMBER_ID_CHARS_MAX } from './constants.js'
import { canonicalCatalog, canonicalTemplateCids, templatesProblem } from './catalog.js'
import { parseTarget } from './envelope.js'
import { ProtocolLevelUnsupportedError, ShapeDataInvalidError } from './errors.js'
import { parseProtocolLevel, PROTOCOL_CANONICAL_CATALOG, PROTOCOL_LEVEL, PROTOCOL_LEVEL_MIN } from './protocol.js'

/**
 * The canonical plain form (snapshots, the shape CID). `pins`, `catalog` and `removed` are present only when
 * not empty, `protocol` only above level 1: a shape that never raised its level encodes as it always did.
 */
export interface ShapeData {
  members: Array<[NodeId, Role[]]>
  target: TargetTopology
  pins?: Array<[NodeId, ControlPlaneRole, boolean]>
  catalog?: Array<[ControlPlaneRole, CatalogTemplate[]]>
  removed?: NodeId[]
  protocol?: number
}

const ROLE_ORDER = new Map<Role, number>(ROLES.map((role, i) => [role, i]))

export function sortRoles (roles: Iterable<Role>): Role[] {
  return [...new Set(roles)].sort((a, b) => (ROLE_ORDER.get(a) ?? 0) - (ROLE_ORDER.get(b) ?? 0))
}

export class MeshShape {
  /**
   * Invariant: every member's stored roles are control-plane roles, `quarantined` or `observer`. A role set
   * may be shared with copies of this shape: it is never changed once in a shape, only replaced (copy()).
   */
  private readonly members: Map<NodeId, Set<Role>>
  readonly target: TargetTopology
  /** Role → manifest templates; a role without an entry uses the build's default templates. Shared by copies (copy-on-write). */
  private catalog: Map<ControlPlaneRole, CatalogTemplate[]>
  /**
   * Invariant: every pin names a member and agrees with its assignment (holds ⇔ the node holds the role).
   * Shared by copies: replaced, never changed, once in a shape (copy()).
   */
  private pinned: Map<NodeId, Map<ControlPlaneRole, boolean>>
  /**
   * Nodes removed by `remove-member`, oldest first (at most MAX_REMOVED_REMEMBERED): never re-admitted, and
   * told so when they connect again. Encoded only when non-empty, so shapes without removals keep their CIDs.
   */
  private removedIds: readonly NodeId[]
  /**
   * The cluster's protocol level (protocol.ts): which wire features proposers may use. Raised only by
   * `set-protocol` (or set by the bootstrap); encoded only above PROTOCOL_LEVEL_MIN, so older shapes keep their CIDs.
   */
  readonly protocol: number

  /**
   * The etcd holders, computed once per shape value: apply asks for them several times per command
   * (the transition, the voter-move check, the invariants). A copy inherits it; every mutator that can move
   * the etcd holders clears it. An ES
   * private field: invisible to structural equality, so a shape that was asked equals one that was not.
   */
  #votersMemo: readonly NodeId[] | undefined

  constructor (members: Map<NodeId, Set<Role>> = new Map(), target: TargetTopology = TARGET_PRESETS.homelab,
    pinned: Map<NodeId, Map<ControlPlaneRole, boolean>> = new Map(), catalog: Map<ControlPlaneRole, CatalogTemplate[]> = new Map(),
    removed: readonly NodeId[] = [], protocol: number = PROTOCOL_LEVEL_MIN) {
    this.protocol = protocol
    this.members = members
    this.target = target
    this.pinned = pinned
    this.catalog = catalog
    this.removedIds = removed
  }

  static empty (): MeshShape {
    return new MeshShape()
  }

  /**
   * A copy to mutate while computing the next shape. Copy-on-write below the top level, because apply copies
   * the shape for every command (issue 16: the deep copy was the largest allocation of the apply path): the
   * copy owns its `members` map, and shares the role sets, the pins, the catalog and the removed list, which
   * the mutators below replace instead of changing. The voters stay known until a mutator moves them.
   */
  copy (): MeshShape {
    const next = new MeshShape(copyMap(this.members), { ...this.target }, this.pinned, this.catalog, this.removedIds, this.protocol)
    next.#votersMemo = this.#votersMemo
    return next
  }

  withTarget (target: TargetTopology): MeshShape {
    const next = this.copy()
    return new MeshShape(next.members, { ...target }, next.pinned, next.catalog, next.removedIds, next.protocol)
  }

  /**
   * The same shape at protocol level `level` (apply checks that it only goes up). At PROTOCOL_CANONICAL_CATALOG
   * or above, every catalog CID is rewritten to its canonical text (a level-6 shape may hold a mixed-case or
   * padded spelling, which a level-7 shape may not): `set-protocol` and a bootstrap at that level both come
   * here, so no level-7 shape holds another spelling. Deterministic: the same shape gives the same result.
   */
  withProtocol (level: number): MeshShape {
    const next = this.copy()
    let catalog = next.catalog
    if (level >= PROTOCOL_CANONICAL_CATALOG) {
      catalog = new Map<ControlPlaneRole, CatalogTemplate[]>()
      next.catalog.forEach((templates, role) => { catalog.set(role, canonicalTemplateCids(templates)) })
    }
    return new MeshShape(next.members, next.target, next.pinned, catalog, next.removedIds, level)
  }

  /** True when `id` was removed by `remove-member` (and must not come back under that NodeId). */
  wasRemoved (id: NodeId): boolean {
    return this.removedIds.includes(id)
  }

  /** Removed NodeIds, oldest first (a fresh array). */
  removed (): NodeId[] {
    return [...this.removedIds]
  }

  /**
   * Removed NodeIds, oldest first, without a copy: the same array until a removal replaces it (copy-on-write,
   * copy()), so a caller can tell a change by identity on every apply. Read only.
   */
  removedView (): readonly NodeId[] {
    return this.removedIds
  }

  /** The manifest templates the catalog names for `role` (empty: the build's defaults apply). */
  templatesOf (role: ControlPlaneRole): CatalogTemplate[] {
    return (this.catalog.get(role) ?? []).map((t) => ({ ...t }))
  }

  /** The whole catalog in canonical order (roles with templates only). */
  catalogEntries (): Array<[ControlPlaneRole, CatalogTemplate[]]> {
    return canonicalCatalog(this.catalog)
  }

  /** The operator's pin of `role` on `id`: true = keep it, false = never give it, undefined = no pin. */
  pinOf (id: NodeId, role: ControlPlaneRole): boolean | undefined {
    return this.pinned.get(id)?.get(role)
  }

  /** Every pin, sorted by node then role. */
  pins (): Pin[] {
    const out: Pin[] = []
    for (const id of [...this.pinned.keys()].sort()) {
      const pins = this.pinned.get(id) ?? new Map<ControlPlaneRole, boolean>()
      for (const role of CONTROL_PLANE_ROLES) {
        const holds = pins.get(role)
        if (holds !== undefined) out.push({ nodeId: id, role, holds })
      }
    }
    return out
  }

  has (id: NodeId): boolean {
    return this.members.has(id)
  }

  get size (): number {
    return this.members.size
  }

  /** Sorted member ids. */
  memberIds (): NodeId[] {
    return [...this.members.keys()].sort()
  }

  /** The node's roles, sorted; a member with no control-plane role that is not quarantined is a worker. */
  rolesOf (id: NodeId): Role[] {
    const stored = this.members.get(id)
    if (stored === undefined) return []
    const hasControlPlane = CONTROL_PLANE_ROLES.some((role) => stored.has(role))
    const roles: Role[] = [...stored]
    if (!hasControlPlane && !stored.has('quarantined')) roles.push('worker')
    return sortRoles(roles)
  }

  /** Whether `rolesOf(id)` includes `role`, without building that list (apply asks it per member per command). */
  holds (id: NodeId, role: Role): boolean {
    const stored = this.members.get(id)
    if (stored === undefined) return false
    if (stored.has(role)) return true
    return role === 'worker' && !stored.has('quarantined') && !CONTROL_PLANE_ROLES.some((r) => stored.has(r))
  }

  /**
   * Members whose roles differ from `before`'s (joined, left, or a role gained or lost), sorted. Cheap when
   * few moved: a copy shares the role sets it did not change (copy()).
   */
  movedSince (before: MeshShape): NodeId[] {
    const moved: NodeId[] = []
    this.members.forEach((roles, id) => {
      const was = before.members.get(id)
      if (was === undefined || (was !== roles && !sameRoleSet(was, roles))) moved.push(id)
    })
    before.members.forEach((_, id) => { if (!this.members.has(id)) moved.push(id) })
    return moved.sort()
  }

  isQuarantined (id: NodeId): boolean {
    return this.members.get(id)?.has('quarantined') === true
  }

  /** Sorted holders of `role`. */
  holders (role: Role): NodeId[] {
    const out: NodeId[] = []
    for (const id of this.members.keys()) if (this.holds(id, role)) out.push(id)
    return out.sort()
  }

  /** How many members hold `role`: `holders(role).length` without building the sorted list. */
  holderCount (role: Role): number {
    let count = 0
    for (const id of this.members.keys()) if (this.holds(id, role)) count++
    return count
  }

  /** The Raft voters: the etcd holders (DESIGN.md §5), sorted; a fresh array the caller may keep. */
  voters (): NodeId[] {
    return [...this.votersView()]
  }

  /** The voters without the copy: for callers that only read them (apply compares them per command). */
  votersView (): readonly NodeId[] {
    this.#votersMemo ??= this.holders('etcd')
    return this.#votersMemo
  }

  // Mutators, used only on a copy inside apply(). They replace a shared role set, pin map or list rather
  // than change it (copy-on-write, see copy()); those that can change the etcd holders forget the voters.
  addMember (id: NodeId): void {
    this.#votersMemo = undefined
    this.members.set(id, new Set())
  }

  removeMember (id: NodeId): void {
    this.#votersMemo = undefined
    this.members.delete(id)
    this.dropPins(id)
    const removed = this.removedIds.includes(id) ? [...this.removedIds] : [...this.removedIds, id]
    if (removed.length > MAX_REMOVED_REMEMBERED) removed.shift()
    this.removedIds = removed
  }

  grant (id: NodeId, roles: readonly Role[]): void {
    const stored = this.members.get(id)
    if (stored === undefined) return
    if (roles.includes('etcd')) this.#votersMemo = undefined
    const next = new Set(stored)
    for (const role of roles) next.add(role)
    this.members.set(id, next)
  }

  revoke (id: NodeId, roles: readonly Role[]): void {
    const stored = this.members.get(id)
    if (stored === undefined) return
    if (roles.includes('etcd')) this.#votersMemo = undefined
    const next = new Set(stored)
    for (const role of roles) next.delete(role)
    this.members.set(id, next)
  }

  clear (id: NodeId): void {
    this.#votersMemo = undefined
    if (this.members.has(id)) this.members.set(id, new Set())
    this.dropPins(id)
  }

  private dropPins (id: NodeId): void {
    if (!this.pinned.has(id)) return
    this.pinned = copyMap(this.pinned)
    this.pinned.delete(id)
  }

  /** Sets (holds = true/false) or drops (undefined) the pins of `roles` on `id`. */
  setPins (id: NodeId, roles: readonly ControlPlaneRole[], holds: boolean | undefined): void {
    const current = this.pinned.get(id)
    if (current === undefined && holds === undefined) return
    const pins = new Map<ControlPlaneRole, boolean>(current)
    for (const role of roles) {
      if (holds === undefined) pins.delete(role)
      else pins.set(role, holds)
    }
    this.pinned = copyMap(this.pinned)
    if (pins.size === 0) this.pinned.delete(id)
    else this.pinned.set(id, pins)
  }

  setTemplates (role: ControlPlaneRole, templates: readonly CatalogTemplate[]): void {
    this.catalog = new Map(this.catalog)
    if (templates.length === 0) this.catalog.delete(role)
    else this.catalog.set(role, templates.map((t) => ({ name: t.name, cid: t.cid })))
  }

  /**
   * Plain, canonical data: members sorted by id, roles sorted canonically (derived `worker` omitted). Pins
   * and the catalog appear only when there are some, so a shape without them encodes (and hashes) as it
   * always did.
   */
  toData (): ShapeData {
    const pins = this.pins().map((p): [NodeId, ControlPlaneRole, boolean] => [p.nodeId, p.role, p.holds])
    const catalog = canonicalCatalog(this.catalog)
    return {
      members: this.memberIds().map((id) => [id, sortRoles(this.members.get(id) ?? [])]),
      target: { ...this.target },
      ...(pins.length > 0 ? { pins } : {}),
      ...(catalog.length > 0 ? { catalog } : {}),
      ...(this.removedIds.length > 0 ? { removed: [...this.removedIds] } : {}),
      ...(this.protocol > PROTOCOL_LEVEL_MIN ? { protocol: this.protocol } : {})
    }
  }

  /**
   * Rebuilds a shape from toData() output, which arrives in snapshots from other nodes: every field is
   * checked, member ids must be unique, and the shape's invariants must hold (at protocol level 7 or more,
   * catalog CIDs in their canonical text; below it, as lenient as the builds before level 7).
   * @throws ShapeDataInvalidError naming what is wrong
   * @throws ProtocolLevelUnsupportedError when its protocol level is above this build's (upgrade first)
   */
  static fromData (data: unknown): MeshShape {
    const value = (typeof data === 'object' && data !== null ? data : {}) as { members?: unknown, target?: unknown, pins?: unknown, catalog?: unknown }
    if (!Array.isArray(value.members) || value.members.length > MAX_MEMBERS) throw new ShapeDataInvalidError('members is not a bounded list')
    const target = parseTarget(value.target)
    if (target === null) throw new ShapeDataInvalidError('target is not a valid target topology')
    const members = new Map<NodeId, Set<Role>>()
    for (const member of value.members as unknown[]) {
      if (!Array.isArray(member) || member.length !== 2) throw new ShapeDataInvalidError('a member is not an [id, roles] pair')
      const [id, roles] = member as [unknown, unknown]
      if (typeof id !== 'string' || id.length === 0 || id.length > MEMBER_ID_CHARS_MAX || members.has(id)) {
        throw new ShapeDataInvalidError('member ids must be non-empty, bounded and unique')
      }
      if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string')) throw new ShapeDataInvalidError(`roles of ${id} are not strings`)
      members.set(id, new Set(roles as Role[]))
    }
    const pinned = new Map<NodeId, Map<ControlPlaneRole, boolean>>()
    if (value.pins !== undefined && !Array.isArray(value.pins)) throw new ShapeDataInvalidError('pins is not a list')
    for (const pin of (value.pins ?? []) as unknown[]) {
      const [id, role, holds] = Array.isArray(pin) && pin.length === 3 ? pin as [unknown, unknown, unknown] : [undefined, undefined, undefined]
      if (typeof id !== 'string' || !isControlPlaneRole(role) || typeof holds !== 'boolean') throw new ShapeDataInvalidError('a pin is not an [id, role, holds] triple')
      pinned.set(id, (pinned.get(id) ?? new Map<ControlPlaneRole, boolean>()).set(role, holds))
    }
    const catalog = new Map<ControlPlaneRole, CatalogTemplate[]>()
    if (value.catalog !== undefined && !Array.isArray(value.catalog)) throw new ShapeDataInvalidError('catalog is not a list')
    for (const entry of (value.catalog ?? []) as unknown[]) {
      const [role, templates] = Array.isArray(entry) && entry.length === 2 ? entry as [unknown, unknown] : [undefined, undefined]
      const valid = isControlPlaneRole(role) && Array.isArray(templates) &&
        templates.every((t: unknown) => typeof t === 'object' && t !== null && typeof (t as CatalogTemplate).name === 'string' && typeof (t as CatalogTemplate).cid === 'string')
      if (!valid) throw new ShapeDataInvalidError('a catalog entry is not a [role, templates] pair')
      catalog.set(role, (templates as CatalogTemplate[]).map((t) => ({ name: t.name, cid: t.cid })))
    }
    const removed = (value as { removed?: unknown }).removed ?? []
    if (!Array.isArray(removed) || removed.length > MAX_REMOVED_REMEMBERED ||
      removed.some((id) => typeof id !== 'string' || id.length === 0 || id.length > MEMBER_ID_CHARS_MAX || members.has(id))) {
      throw new ShapeDataInvalidError('removed is not a bounded list of non-member ids')
    }
    const rawProtocol = (value as { protocol?: unknown }).protocol
    const protocol = rawProtocol === undefined ? PROTOCOL_LEVEL_MIN : parseProtocolLevel(rawProtocol)
    // Written only above level 1: an explicit 1 would give one shape two encodings.
    if (protocol === null || (rawProtocol !== undefined && protocol === PROTOCOL_LEVEL_MIN)) throw new ShapeDataInvalidError('protocol is not a level above 1')
    if (protocol > PROTOCOL_LEVEL) throw new ProtocolLevelUnsupportedError(protocol, PROTOCOL_LEVEL)
    const shape = new MeshShape(members, target, pinned, catalog, [...removed] as NodeId[], protocol)
    const problem = shape.invariantProblem()
    if (problem !== null) throw new ShapeDataInvalidError(`invalid shape data: ${problem}`)
    return shape
  }

  /** Why the shape breaks an invariant, or null. */
  invariantProblem (): string | null {
    if (this.members.size > MAX_MEMBERS) return `more than ${MAX_MEMBERS} members`
    for (const [id, roles] of this.members) {
      if (typeof id !== 'string' || id.length === 0) return 'empty member id'
      for (const role of roles) {
        if (role === 'worker' || !ROLE_ORDER.has(role)) return `${id} stores role ${String(role)}`
      }
      if (roles.has('quarantined') && CONTROL_PLANE_ROLES.some((role) => roles.has(role))) {
        return `${id} is quarantined but holds a control-plane role`
      }
    }
    for (const [id, pins] of this.pinned) {
      if (!this.members.has(id)) return `pin on ${id}, not a member`
      for (const [role, holds] of pins) {
        if (this.holds(id, role) !== holds) return `${id} is pinned ${holds ? 'to hold' : 'not to hold'} ${role} but ${holds ? 'does not' : 'does'}`
      }
    }
    const etcd = this.votersView().length
    if (this.members.size > 0 && etcd === 0) return 'no etcd holder (no voter)'
    if (etcd > MAX_ETCD_HOLDERS) return `more than ${MAX_ETCD_HOLDERS} etcd holders`
    // At PROTOCOL_CANONICAL_CATALOG or above, a CID not in its canonical text breaks the invariant: such a
    // shape cannot come from apply (withProtocol rewrites them), so restore refuses it (fromData).
    for (const [role, templates] of this.catalog) {
      const problem = templatesProblem(templates, this.protocol)
      if (problem !== null) return `catalog of ${role}: ${problem}`
    }
    return null
  }

  checkInvariants (): void {
    const problem = this.invariantProblem()
    assert(problem === null, () => `MeshShape invariant: ${problem ?? ''}`)
  }
}

function sameRoleSet (a: ReadonlySet<Role>, b: ReadonlySet<Role>): boolean {
  if (a.size !== b.size) return false
  for (const role of a) if (!b.has(role)) return false
  return true
}

/**
 * A copy of a small map, through forEach: `new Map(map)` steps the generic iterator protocol, an object or
 * two per entry (3× the time and twice the garbage of this, measured for a 3-member shape, issue 16).
 */
function copyMap<K, V> (map: ReadonlyMap<K, V>): Map<K, V> {
  const copy = new Map<K, V>()
  map.forEach((value, key) => { copy.set(key, value) })
  return copy
}

export function isControlPlaneRole (role: unknown): role is ControlPlaneRole {
  return typeof role === 'string' && (CONTROL_PLANE_ROLES as readonly string[]).includes(role)
}
