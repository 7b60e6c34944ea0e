/**
 * Canonical catalog CIDs (protocol level 7, PROTOCOL_CANONICAL_CATALOG; docs/ENCODING.md "Protocol levels").
 * Goal: a template CID spelled other than as a fresh encoding of its bytes (mixed case, `=` padding: base32
 * decodes both, and multiformats' toString() returns the parsed text) is refused from level 7 on, while below
 * it every replica applies a set-catalog exactly as the builds before level 7 do. Method: signed entries
 * through ShapeMachine.apply (the committed typed result and the shape CID) at levels 6 and 7; the raise
 * 6 → 7 on two replicas (the held spelling rewritten, the same shape CID on both); restore of level-6 and
 * level-7 shape data holding such a spelling.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { cidOfBytes, cidOfValue, encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { MeshShape, PROTOCOL_CANONICAL_CATALOG, PROTOCOL_REPLACEMENT, transition } from '../../../src/consensus/shape/core/index.js'
import type { Command } from '../../../src/consensus/shape/core/index.js'
import { newSigner, signEnvelopeValue } from './helpers.js'

const CLUSTER = 'cluster-cat'
const canonical = cidOfBytes(new TextEncoder().encode('kind: Pod\n')).toString()
/** The same CID with its last letter upper-cased: parses to equal bytes, and passed the check before level 7. */
const mixed = canonical.replace(/[a-z](?=[^a-z]*$)/, (c) => c.toUpperCase())
const padded = `${canonical}=`

describe('canonical catalog CIDs (protocol level 7)', () => {
  let a: Signer
  beforeAll(async () => { a = await newSigner() })

  let seq = 0
  const signed = (command: Command): Uint8Array => signEnvelopeValue(
    { v: 1, clusterId: CLUSTER, command, reason: 'operator', proposer: a.nodeId, proposalId: { clientId: 'x', seq: ++seq }, proposedAtMs: 1 }, a, CLUSTER)

  /** A replica bootstrapped by `a` at `level`, its next index 3. */
  function replica (level: number): { m: ShapeMachine, apply: (command: Command) => { kind: string, code?: string, message?: string } } {
    const m = new ShapeMachine(CLUSTER)
    let index = 2
    const apply = (command: Command): { kind: string, code?: string, message?: string } =>
      m.apply(signed(command), { index: index++, term: 1, timeMs: 0 }).result.outcome
    expect(apply({ kind: 'bootstrap', nodeId: a.nodeId, protocol: level })).toEqual({ kind: 'applied' })
    return { m, apply }
  }

  const setCatalog = (cid: string): Command => ({ kind: 'set-catalog', role: 'scheduler', templates: [{ name: 'kube-scheduler.yaml', cid }] })

  it('should apply a mixed-case or padded template CID below level 7, as the builds before it do', () => {
    expect(mixed).not.toBe(canonical)
    for (const cid of [mixed, padded]) {
      const { m, apply } = replica(PROTOCOL_REPLACEMENT)
      expect(apply(setCatalog(cid))).toEqual({ kind: 'applied' })
      expect(m.shape.templatesOf('scheduler')).toEqual([{ name: 'kube-scheduler.yaml', cid }])
    }
  })

  it('should commit a mixed-case or padded template CID at level 7 as invalid-catalog, the shape unchanged', () => {
    for (const cid of [mixed, padded]) {
      const { m, apply } = replica(PROTOCOL_CANONICAL_CATALOG)
      const before = { shape: m.shape, cid: m.shapeCid() }
      expect(apply(setCatalog(cid))).toMatchObject({ kind: 'rejected', code: 'invalid-catalog', message: expect.stringContaining(`canonical string form (${canonical}`) })
      expect(m.shape).toBe(before.shape)
      expect(m.shapeCid()).toBe(before.cid)
      expect(m.shape.templatesOf('scheduler')).toEqual([])
      // Its canonical spelling applies.
      expect(apply(setCatalog(canonical))).toEqual({ kind: 'applied' })
    }
  })

  it('should rewrite a held spelling to its canonical text when the level is raised to 7, the same on two replicas', () => {
    const replicas = [replica(PROTOCOL_REPLACEMENT), replica(PROTOCOL_REPLACEMENT)]
    // The shape a level-6 cluster reached with the canonical spelling: what the raise must lead to.
    const reference = replica(PROTOCOL_REPLACEMENT)
    expect(reference.apply(setCatalog(canonical))).toEqual({ kind: 'applied' })
    expect(reference.apply({ kind: 'set-protocol', level: PROTOCOL_CANONICAL_CATALOG })).toEqual({ kind: 'applied' })
    for (const { m, apply } of replicas) {
      expect(apply(setCatalog(mixed))).toEqual({ kind: 'applied' })
      const held = m.shapeCid()
      expect(apply({ kind: 'set-protocol', level: PROTOCOL_CANONICAL_CATALOG })).toEqual({ kind: 'applied' })
      expect(m.shape.protocol).toBe(PROTOCOL_CANONICAL_CATALOG)
      expect(m.shape.templatesOf('scheduler')).toEqual([{ name: 'kube-scheduler.yaml', cid: canonical }])
      expect(m.shape.toData().catalog).toEqual([['scheduler', [{ name: 'kube-scheduler.yaml', cid: canonical }]]])
      // The rewrite is committed state: the shape CID covers the catalog's text.
      expect(m.shapeCid()).not.toBe(held)
      expect(m.shapeCid()).toBe(reference.m.shapeCid())
    }
    expect(replicas[0]?.m.snapshot()).toEqual(replicas[1]?.m.snapshot())
  })

  it('should rewrite a catalog held by an empty shape when a bootstrap starts it at level 7', () => {
    const held = transition(MeshShape.empty(), setCatalog(mixed))
    if (held.kind !== 'applied') throw new Error(held.message)
    const started = transition(held.shape, { kind: 'bootstrap', nodeId: 'n1', protocol: PROTOCOL_CANONICAL_CATALOG })
    if (started.kind !== 'applied') throw new Error(started.message)
    expect(started.shape.templatesOf('scheduler')).toEqual([{ name: 'kube-scheduler.yaml', cid: canonical }])
  })

  describe('restore (snapshots)', () => {
    const data = (cid: string, protocol: number): Record<string, unknown> => ({
      members: [['n1', ['api-server', 'etcd', 'scheduler', 'controller-manager']]],
      target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 1 },
      catalog: [['scheduler', [{ name: 'kube-scheduler.yaml', cid }]]],
      protocol
    })

    it('should refuse a level-7 shape that holds a mixed-case or padded template CID', () => {
      for (const cid of [mixed, padded]) {
        expect(() => MeshShape.fromData(data(cid, PROTOCOL_CANONICAL_CATALOG))).toThrow(expect.objectContaining({ name: 'ShapeDataInvalidError', message: expect.stringContaining('canonical string form') }))
        expect(new ShapeMachine(CLUSTER).canRestore(encodeCanonical(data(cid, PROTOCOL_CANONICAL_CATALOG)))).toBe(false)
      }
      expect(MeshShape.fromData(data(canonical, PROTOCOL_CANONICAL_CATALOG)).templatesOf('scheduler')).toEqual([{ name: 'kube-scheduler.yaml', cid: canonical }])
    })

    it('should restore a level-6 shape that holds one as it is, and canonicalise it at the raise to 7', () => {
      const m = new ShapeMachine(CLUSTER)
      expect(m.canRestore(encodeCanonical(data(mixed, PROTOCOL_REPLACEMENT)))).toBe(true)
      m.restore(encodeCanonical(data(mixed, PROTOCOL_REPLACEMENT)))
      expect(m.shape.templatesOf('scheduler')).toEqual([{ name: 'kube-scheduler.yaml', cid: mixed }])
      expect(m.snapshot()).toEqual(encodeCanonical(data(mixed, PROTOCOL_REPLACEMENT)))
      const raised = transition(m.shape, { kind: 'set-protocol', level: PROTOCOL_CANONICAL_CATALOG })
      if (raised.kind !== 'applied') throw new Error(raised.message)
      expect(raised.shape.toData()).toEqual(data(canonical, PROTOCOL_CANONICAL_CATALOG))
      expect(cidOfValue(raised.shape.toData()).toString()).toBe(cidOfValue(data(canonical, PROTOCOL_CANONICAL_CATALOG)).toString())
    })
  })
})
