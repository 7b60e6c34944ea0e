/**
 * The reconcile plan (issue 15): writes what differs, removes only what this node wrote and no longer
 * wants, keeps a held role's manifest while its new template cannot be fetched, and never touches a file
 * revoada did not write.
 */
import { describe, expect, it } from 'vitest'
import { planReconcile, roleTransitions } from '../../src/materializer/core/index.js'
import type { DesiredManifest } from '../../src/materializer/core/index.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const want = (name: string, text: string, role: DesiredManifest['role'] = 'api-server'): DesiredManifest => ({ name, role, templateCid: 'cid', bytes: bytes(text) })

describe('planReconcile', () => {
  it('should write new and changed manifests and leave equal ones alone', () => {
    const plan = planReconcile([want('a.yaml', 'A'), want('b.yaml', 'B2'), want('c.yaml', 'C')], new Set(['b.yaml', 'c.yaml']), new Map([['b.yaml', bytes('B1')], ['c.yaml', bytes('C')]]))
    expect(plan.writes.map((m) => m.name)).toEqual(['a.yaml', 'b.yaml'])
    expect(plan.unchanged.map((m) => m.name)).toEqual(['c.yaml'])
    expect(plan.removals).toEqual([])
  })

  it('should remove a managed manifest that is no longer desired, and only managed ones', () => {
    const plan = planReconcile([], new Set(['etcd.yaml']), new Map([['etcd.yaml', bytes('E')], ['operator.yaml', bytes('O')]]))
    expect(plan.removals).toEqual(['etcd.yaml'])
  })

  it('should keep a managed manifest listed in keep (its role is held, its new template not yet available)', () => {
    const plan = planReconcile([], new Set(['etcd.yaml']), new Map([['etcd.yaml', bytes('E')]]), new Set(['etcd.yaml']))
    expect(plan.removals).toEqual([])
  })

  it('should not overwrite a file it did not write, and report the conflict', () => {
    const plan = planReconcile([want('kube-apiserver.yaml', 'ours')], new Set(), new Map([['kube-apiserver.yaml', bytes('kubeadm wrote this')]]))
    expect(plan.writes).toEqual([])
    expect(plan.conflicts.map((c) => c.name)).toEqual(['kube-apiserver.yaml'])
  })

  it('should neither write nor remove a name held by an entry it cannot read, desired or managed, and report each', () => {
    const unreadable = new Map([['a.yaml', 'is not a regular file'], ['m.yaml', 'is not a regular file'], ['other.yaml', 'is not a regular file']])
    const plan = planReconcile([want('a.yaml', 'A'), want('b.yaml', 'B')], new Set(['a.yaml', 'm.yaml']), new Map(), new Set(), unreadable)
    expect(plan.writes.map((m) => m.name)).toEqual(['b.yaml'])
    expect(plan.removals).toEqual([])
    // Neither desired nor managed: not this node's business.
    expect(plan.conflicts.map((c) => c.name)).toEqual(['a.yaml', 'm.yaml'])
  })

  it('should report two roles rendering the same file name and write only the first', () => {
    const plan = planReconcile([want('x.yaml', '1', 'api-server'), want('x.yaml', '2', 'etcd')], new Set(), new Map())
    expect(plan.writes.map((m) => m.role)).toEqual(['api-server'])
    expect(plan.conflicts).toHaveLength(1)
  })
})

describe('roleTransitions', () => {
  it('should list control-plane roles gained and lost, ignoring worker', () => {
    expect(roleTransitions(['etcd', 'worker'], ['api-server', 'scheduler'])).toEqual({ gained: ['api-server', 'scheduler'], lost: ['etcd'] })
    expect(roleTransitions(['worker'], ['worker'])).toEqual({ gained: [], lost: [] })
  })
})
