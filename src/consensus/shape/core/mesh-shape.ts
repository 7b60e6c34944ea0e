/**
 * @module consensus/shape/core/mesh-shape
 * The MeshShape value: members → roles, plus the target topology. Immutable from the outside: apply()
 * computes a new shape on a copy, checks its invariants, then returns it (STYLE §8). Its canonical
 * encoding sorts members and roles, so equal shapes give equal bytes and equal CIDs on every node.
 */
import { assert } from '../../../util/assert.js'
import { CONTROL_PLANE_ROLES, ROLES, TARGET_PRESETS } from './types.js'
import type { ControlPlaneRole, NodeId, Role, TargetTopology } from './types.js'
import { MAX_ETCD_HOLDERS, MAX_MEMBERS, MAX_REMOVED_REMEMBERED } from './constants.js'

/** The canonical plain form of a shape (`removed` only when non-empty). */
export interface ShapeData {
  members: Array<[NodeId, Role[]]>
  target: TargetTopology
  removed?: NodeId[]
}

const ROLE_ORDER = new Map<Role, number>(ROLES.map((role, i) => [role, i]))

export function sortRoles (roles: Iterable<Role>): Role[] {
  return [...new Set(roles)].sort((a, b) => (ROLE_ORDER.get(a) ?? 0) - (ROLE_ORDER.get(b) ?? 0))
}

export class MeshShape {
  /** Invariant: every member's stored roles are control-plane roles, `quarantined` or `observer`. */
  private readonly members: Map<NodeId, Set<Role>>
  readonly target: TargetTopology
  /**
   * Nodes removed by `remove-member`, oldest first (at most MAX_REMOVED_REMEMBERED): never re-admitted, and
   * told so when they connect again. Encoded only when non-empty, so shapes without removals keep their CIDs.
   */
  private readonly removedIds: NodeId[]

  constructor (members: Map<NodeId, Set<Role>> = new Map(), target: TargetTopology = TARGET_PRESETS.homelab, removed: NodeId[] = []) {
    this.members = members
    this.target = target
    this.removedIds = removed
  }

  static empty (): MeshShape {
    return new MeshShape()
  }

  /** A deep copy to mutate while computing the next shape. */
  copy (): MeshShape {
    const members = new Map<NodeId, Set<Role>>()
    for (const [id, roles] of this.members) members.set(id, new Set(roles))
    return new MeshShape(members, { ...this.target }, [...this.removedIds])
  }

  withTarget (target: TargetTopology): MeshShape {
    const next = this.copy()
    return new MeshShape(next.members, { ...target }, next.removedIds)
  }

  /** True when `id` was removed by `remove-member` (and must not come back under that NodeId). */
  wasRemoved (id: NodeId): boolean {
    return this.removedIds.includes(id)
  }

  /** Removed NodeIds, oldest first. */
  removed (): NodeId[] {
    return [...this.removedIds]
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

  holds (id: NodeId, role: Role): boolean {
    return this.rolesOf(id).includes(role)
  }

  isQuarantined (id: NodeId): boolean {
    return this.members.get(id)?.has('quarantined') === true
  }

  /** Sorted holders of `role`. */
  holders (role: Role): NodeId[] {
    return this.memberIds().filter((id) => this.holds(id, role))
  }

  /** The Raft voters: the etcd holders (DESIGN.md §5). */
  voters (): NodeId[] {
    return this.holders('etcd')
  }

  // Mutators, used only on a copy inside apply().
  addMember (id: NodeId): void { this.members.set(id, new Set()) }
  removeMember (id: NodeId): void {
    this.members.delete(id)
    if (!this.removedIds.includes(id)) this.removedIds.push(id)
    if (this.removedIds.length > MAX_REMOVED_REMEMBERED) this.removedIds.shift()
  }
  grant (id: NodeId, roles: readonly Role[]): void { for (const role of roles) this.members.get(id)?.add(role) }
  revoke (id: NodeId, roles: readonly Role[]): void { for (const role of roles) this.members.get(id)?.delete(role) }
  clear (id: NodeId): void { this.members.get(id)?.clear() }

  /** Plain, canonical data: members sorted by id, roles sorted canonically (derived `worker` omitted). */
  toData (): ShapeData {
    return {
      members: this.memberIds().map((id) => [id, sortRoles(this.members.get(id) ?? [])]),
      target: { ...this.target },
      ...(this.removedIds.length > 0 ? { removed: [...this.removedIds] } : {})
    }
  }

  static fromData (data: ShapeData): MeshShape {
    const members = new Map<NodeId, Set<Role>>()
    for (const [id, roles] of data.members) members.set(id, new Set(roles))
    const removed = data.removed ?? []
    if (!Array.isArray(removed) || removed.length > MAX_REMOVED_REMEMBERED || removed.some((id) => typeof id !== 'string' || members.has(id))) {
      throw new TypeError('invalid shape data: bad removed list')
    }
    const shape = new MeshShape(members, { ...data.target }, [...removed])
    const problem = shape.invariantProblem()
    if (problem !== null) throw new TypeError(`invalid shape data: ${problem}`)
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
    const etcd = this.voters().length
    if (this.members.size > 0 && etcd === 0) return 'no etcd holder (no voter)'
    if (etcd > MAX_ETCD_HOLDERS) return `more than ${MAX_ETCD_HOLDERS} etcd holders`
    return null
  }

  checkInvariants (): void {
    const problem = this.invariantProblem()
    assert(problem === null, () => `MeshShape invariant: ${problem ?? ''}`)
  }
}

export function isControlPlaneRole (role: unknown): role is ControlPlaneRole {
  return typeof role === 'string' && (CONTROL_PLANE_ROLES as readonly string[]).includes(role)
}
