/**
 * The role catalog in the MeshShape (issue 15): `set-catalog` commits a role's templates by CID, an empty
 * list restores the default, invalid names or CIDs are committed as typed rejections, and a shape without a
 * catalog keeps the canonical bytes it had before the catalog existed.
 */
import { describe, expect, it } from 'vitest'
import { cidOfBytes, cidOfValue } from '../../../src/codec/index.js'
import { MeshShape, transition } from '../../../src/consensus/shape/core/index.js'
import type { Command } from '../../../src/consensus/shape/core/index.js'
import { decodeSignedProposal, encodeSignedProposal, envelopeBytesAndCid } from '../../../src/consensus/shape/core/index.js'

const cid = cidOfBytes(new TextEncoder().encode('template')).toString()
const base = MeshShape.fromData({ members: [['n1', ['api-server', 'etcd', 'scheduler', 'controller-manager']]], target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 1 } })

const apply = (shape: MeshShape, command: Command) => transition(shape, command)

describe('set-catalog', () => {
  it('should record the templates and restore the default with an empty list', () => {
    const set = apply(base, { kind: 'set-catalog', role: 'etcd', templates: [{ name: 'etcd.yaml', cid }] })
    expect(set.kind).toBe('applied')
    if (set.kind !== 'applied') return
    expect(set.shape.templatesOf('etcd')).toEqual([{ name: 'etcd.yaml', cid }])
    expect(set.shape.toData().catalog).toEqual([['etcd', [{ name: 'etcd.yaml', cid }]]])
    expect(MeshShape.fromData(set.shape.toData()).templatesOf('etcd')).toEqual([{ name: 'etcd.yaml', cid }])
    const reset = apply(set.shape, { kind: 'set-catalog', role: 'etcd', templates: [] })
    expect(reset.kind === 'applied' && reset.shape.templatesOf('etcd')).toEqual([])
    if (reset.kind === 'applied') expect(cidOfValue(reset.shape.toData()).toString()).toBe(cidOfValue(base.toData()).toString())
  })

  it('should keep the shape\'s encoding unchanged while no catalog is set', () => {
    expect(Object.keys(base.toData()).sort()).toEqual(['members', 'target'])
  })

  it('should reject bad names, bad CIDs and duplicates as invalid-catalog', () => {
    const bad: Array<Array<{ name: string, cid: string }>> = [
      [{ name: '../etc/passwd.yaml', cid }], [{ name: '.hidden.yaml', cid }], [{ name: 'pod.json', cid }],
      [{ name: 'a.yaml', cid: 'not-a-cid' }], [{ name: 'a.yaml', cid: cidOfValue({ x: 1 }).toString().toUpperCase() }],
      [{ name: 'a.yaml', cid }, { name: 'a.yaml', cid }],
      Array.from({ length: 9 }, (_, i) => ({ name: `t${i}.yaml`, cid }))
    ]
    for (const templates of bad) {
      const result = apply(base, { kind: 'set-catalog', role: 'api-server', templates })
      expect(result.kind, JSON.stringify(templates)).toBe('rejected')
      if (result.kind === 'rejected') expect(result.code).toBe('invalid-catalog')
    }
  })

  it('should decode a well-formed set-catalog envelope and refuse extra or missing fields', () => {
    const envelope = (command: unknown) => encodeSignedProposal(envelopeBytesAndCid({ v: 1, clusterId: 'c', command, reason: 'operator', proposer: 'n1', proposalId: { clientId: 'x', seq: 1 }, proposedAtMs: 1 } as never).bytes, new Uint8Array(64))
    expect((decodeSignedProposal(envelope({ kind: 'set-catalog', role: 'etcd', templates: [{ name: 'etcd.yaml', cid }] }))?.envelope as { command: { kind: string } } | undefined)?.command.kind).toBe('set-catalog')
    expect(decodeSignedProposal(envelope({ kind: 'set-catalog', role: 'worker', templates: [] }))).toBeNull()
    expect(decodeSignedProposal(envelope({ kind: 'set-catalog', role: 'etcd', templates: [{ name: 'etcd.yaml', cid, extra: 1 }] }))).toBeNull()
    expect(decodeSignedProposal(envelope({ kind: 'set-catalog', role: 'etcd' }))).toBeNull()
  })
})
