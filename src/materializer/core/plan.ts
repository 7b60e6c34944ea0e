/**
 * @module materializer/core/plan
 * What one reconcile must do to the static-pod directory (issue 15): write every desired manifest whose
 * bytes differ from the file, remove every file this node wrote earlier that is no longer desired, and never
 * touch a file it did not write (an operator's own manifest in /etc/kubernetes/manifests). Pure.
 */
import type { ControlPlaneRole, Role } from '../../consensus/shape/core/index.js'
import { CONTROL_PLANE_ROLES } from '../../consensus/shape/core/index.js'

export interface DesiredManifest {
  /** File name in the manifest directory. */
  name: string
  role: ControlPlaneRole
  templateCid: string
  bytes: Uint8Array
}

export interface ReconcilePlan {
  writes: DesiredManifest[]
  /** Managed file names to delete. */
  removals: string[]
  /** Desired manifests already on disk with the same bytes. */
  unchanged: DesiredManifest[]
  /** Desired names that collide with a file we do not manage, or with another role's template: skipped. */
  conflicts: Array<{ name: string, why: string }>
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((byte, i) => byte === b[i])

/**
 * @param desired the manifests this node's roles call for
 * @param managed names this node wrote before (its state file)
 * @param onDisk current bytes of every name in `desired` or `managed` that exists
 * @param keep managed names to leave as they are although not desired (a held role whose template could not
 *   be fetched yet: its running manifest stays until the new one can be rendered)
 * @param unreadable names held by an entry that is not a regular file or cannot be read (name → why): neither
 *   written nor removed, a conflict whether desired or managed
 */
export function planReconcile (desired: readonly DesiredManifest[], managed: ReadonlySet<string>, onDisk: ReadonlyMap<string, Uint8Array>,
  keep: ReadonlySet<string> = new Set(), unreadable: ReadonlyMap<string, string> = new Map()): ReconcilePlan {
  const plan: ReconcilePlan = { writes: [], removals: [], unchanged: [], conflicts: [] }
  const wanted = new Map<string, DesiredManifest>()
  for (const [name, why] of [...unreadable].sort(([a], [b]) => a < b ? -1 : 1)) {
    if (desired.some((m) => m.name === name) || managed.has(name)) plan.conflicts.push({ name, why: `${name} ${why}: left alone` })
  }
  for (const manifest of desired) {
    if (unreadable.has(manifest.name)) continue
    const other = wanted.get(manifest.name)
    if (other !== undefined) {
      plan.conflicts.push({ name: manifest.name, why: `roles ${other.role} and ${manifest.role} both render ${manifest.name}` })
      continue
    }
    const current = onDisk.get(manifest.name)
    if (current !== undefined && !managed.has(manifest.name) && !sameBytes(current, manifest.bytes)) {
      plan.conflicts.push({ name: manifest.name, why: `${manifest.name} exists and was not written by revoada: left alone` })
      continue
    }
    wanted.set(manifest.name, manifest)
    if (current !== undefined && sameBytes(current, manifest.bytes)) plan.unchanged.push(manifest)
    else plan.writes.push(manifest)
  }
  for (const name of [...managed].sort()) {
    if (!wanted.has(name) && !keep.has(name) && onDisk.has(name)) plan.removals.push(name)
  }
  return plan
}

/** Control-plane roles gained and lost between two role lists (for the promote/demote hooks). */
export function roleTransitions (before: readonly Role[], after: readonly Role[]): { gained: ControlPlaneRole[], lost: ControlPlaneRole[] } {
  return {
    gained: CONTROL_PLANE_ROLES.filter((role) => after.includes(role) && !before.includes(role)),
    lost: CONTROL_PLANE_ROLES.filter((role) => before.includes(role) && !after.includes(role))
  }
}
