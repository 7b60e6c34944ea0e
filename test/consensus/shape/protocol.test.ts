/**
 * The protocol level gate (rolling upgrades; shape/core/protocol.ts, docs/OPERATIONS.md): the pure raise
 * decision, `set-protocol` and the bootstrap's level at apply (upward only; a level above this build's halts
 * the apply with a typed error and writes nothing), strict decoding of both, and the shape encoding: a shape
 * that never raised its level keeps the bytes and CID the build before the gate gave it.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { cidOfValue, createSigner, decodeCanonical, encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import {
  MeshShape, PROTOCOL_BATCH_ENVELOPES, PROTOCOL_CANONICAL_CATALOG, PROTOCOL_FORWARDED_REQUESTS, PROTOCOL_JOINED_PROMOTION, PROTOCOL_LEVEL,
  PROTOCOL_LEVEL_MIN, PROTOCOL_REFUSALS_ANSWERED, PROTOCOL_REPLACEMENT, PROTOCOL_SEAL_HANDOVER, decodeSignedProposal, encodeSignedProposal, envelopeBytesAndCid,
  protocolRaise, transition
} from '../../../src/consensus/shape/core/index.js'
import type { Command, Envelope } from '../../../src/consensus/shape/core/index.js'

const CLUSTER = 'cluster-1'

async function newSigner (): Promise<Signer> {
  const key = await generateKeyPair('Ed25519')
  return createSigner(key, peerIdFromPrivateKey(key).toString())
}

describe('protocol levels', () => {
  it('should number the levels 1 to 8 without a gap, the build at the top one', () => {
    expect([PROTOCOL_LEVEL_MIN, PROTOCOL_BATCH_ENVELOPES, PROTOCOL_JOINED_PROMOTION, PROTOCOL_FORWARDED_REQUESTS, PROTOCOL_REFUSALS_ANSWERED,
      PROTOCOL_REPLACEMENT, PROTOCOL_CANONICAL_CATALOG, PROTOCOL_SEAL_HANDOVER]).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(PROTOCOL_LEVEL).toBe(PROTOCOL_SEAL_HANDOVER)
  })
})

describe('protocolRaise (pure)', () => {
  const members = ['a', 'b', 'c']
  const from = (levels: Record<string, unknown>) => (id: string): number | undefined => levels[id] as number | undefined

  it('should raise to the lowest level every member advertises, capped at the build\'s, only upward', () => {
    expect(protocolRaise({ current: 1, members, advertised: from({ a: 4, b: 4, c: 4 }), own: 4 })).toBe(4)
    expect(protocolRaise({ current: 1, members, advertised: from({ a: 4, b: 3, c: 4 }), own: 4 })).toBe(3)
    // A later build's level counts as this build's: never above what the leader itself knows.
    expect(protocolRaise({ current: 1, members, advertised: from({ a: 9, b: 9, c: 9 }), own: 4 })).toBe(4)
    expect(protocolRaise({ current: 4, members, advertised: from({ a: 4, b: 4, c: 4 }), own: 4 })).toBeNull()
    expect(protocolRaise({ current: 3, members, advertised: from({ a: 4, b: 2, c: 4 }), own: 4 })).toBeNull()
  })

  it('should not raise while one member (voter or learner) advertises level 1 or was not heard from', () => {
    expect(protocolRaise({ current: 1, members, advertised: from({ a: 4, b: 1, c: 4 }), own: 4 })).toBeNull()
    expect(protocolRaise({ current: 1, members, advertised: from({ a: 4, c: 4 }), own: 4 })).toBeNull()
    expect(protocolRaise({ current: 1, members: [], advertised: from({}), own: 4 })).toBeNull()
  })

  it('should count a level that is not an integer in range as the lowest', () => {
    for (const bad of [Number.NaN, 2.5, -3, 0, 1e9, Infinity]) {
      expect(protocolRaise({ current: 1, members, advertised: from({ a: 4, b: bad, c: 4 }), own: 4 })).toBeNull()
    }
  })
})

describe('set-protocol and the bootstrap level at apply', () => {
  let a: Signer
  beforeAll(async () => { a = await newSigner() })

  let seq = 0
  function signed (command: unknown): Uint8Array {
    const envelope = { v: 1, clusterId: CLUSTER, command, reason: 'operator', proposer: a.nodeId, proposalId: { clientId: 'x', seq: ++seq }, proposedAtMs: 1 }
    const { bytes, cid } = envelopeBytesAndCid(envelope as Envelope)
    return encodeSignedProposal(bytes, a.sign('proposal', CLUSTER, cid))
  }

  function bootstrapped (protocol?: number): ShapeMachine {
    const m = new ShapeMachine(CLUSTER)
    const applied = m.apply(signed({ kind: 'bootstrap', nodeId: a.nodeId, ...(protocol !== undefined ? { protocol } : {}) }), { index: 2, term: 1, timeMs: 0 })
    expect(applied.result.outcome).toEqual({ kind: 'applied' })
    return m
  }

  const code = (m: ShapeMachine, command: Command, index: number): string => {
    const { result } = m.apply(signed(command), { index, term: 1, timeMs: 0 })
    return result.outcome.kind === 'applied' ? 'applied' : result.outcome.code
  }

  it('should start a cluster at its creator\'s level, or at 1 without one', () => {
    expect(bootstrapped().shape.protocol).toBe(1)
    expect(bootstrapped(PROTOCOL_LEVEL).shape.protocol).toBe(PROTOCOL_LEVEL)
  })

  it('should raise the level only upward', () => {
    const m = bootstrapped()
    expect(code(m, { kind: 'set-protocol', level: 3 }, 3)).toBe('applied')
    expect(m.shape.protocol).toBe(3)
    expect(code(m, { kind: 'set-protocol', level: 2 }, 4)).toBe('protocol-not-raised')
    expect(code(m, { kind: 'set-protocol', level: 3 }, 5)).toBe('protocol-not-raised')
    expect(m.shape.protocol).toBe(3)
    expect(code(m, { kind: 'set-protocol', level: PROTOCOL_LEVEL }, 6)).toBe('applied')
    expect(m.shape.protocol).toBe(PROTOCOL_LEVEL)
  })

  it('should raise through every level of the build one at a time, and start a cluster at each', () => {
    const m = bootstrapped()
    for (let level = PROTOCOL_LEVEL_MIN + 1; level <= PROTOCOL_LEVEL; level++) {
      expect(code(m, { kind: 'set-protocol', level }, level + 1), `level ${level}`).toBe('applied')
      expect(m.shape.protocol).toBe(level)
      expect(bootstrapped(level).shape.protocol).toBe(level)
    }
    expect(m.shape.protocol).toBe(PROTOCOL_SEAL_HANDOVER)
  })

  it('should halt the apply with a typed error, writing nothing, on a level above the build\'s', () => {
    const m = bootstrapped()
    const before = { shape: m.shape, cid: m.shapeCid() }
    const newer = signed({ kind: 'set-protocol', level: PROTOCOL_LEVEL + 1 })
    // It decodes (so a newer build's entry is not `malformed` here) ...
    expect(decodeSignedProposal(newer)?.envelope).toMatchObject({ command: { kind: 'set-protocol', level: PROTOCOL_LEVEL + 1 } })
    // ... and stops this node's apply instead of diverging.
    expect(() => m.apply(newer, { index: 3, term: 1, timeMs: 0 })).toThrow(expect.objectContaining({ name: 'ProtocolLevelUnsupportedError', message: expect.stringMatching(/upgrade revoada/) }))
    expect(m.shape).toBe(before.shape)
    expect(m.shapeCid()).toBe(before.cid)
    // A bootstrap at a level above the build's halts too.
    expect(() => new ShapeMachine(CLUSTER).apply(signed({ kind: 'bootstrap', nodeId: a.nodeId, protocol: PROTOCOL_LEVEL + 1 }), { index: 2, term: 1, timeMs: 0 }))
      .toThrow(expect.objectContaining({ name: 'ProtocolLevelUnsupportedError' }))
  })

  it('should commit a set-protocol or bootstrap level that is not an integer from 2 as malformed', () => {
    const m = bootstrapped()
    for (const level of [0, 1, 2.5, -2, '3', 65_536, null]) {
      expect(code(m, { kind: 'set-protocol', level } as unknown as Command, 10)).toBe('malformed')
    }
    expect(code(m, { kind: 'set-protocol', level: 3, extra: 1 } as unknown as Command, 11)).toBe('malformed')
    for (const protocol of [1, 0, 'x', 65_536]) {
      const fresh = new ShapeMachine(CLUSTER)
      const { result } = fresh.apply(signed({ kind: 'bootstrap', nodeId: a.nodeId, protocol }), { index: 2, term: 1, timeMs: 0 })
      expect(result.outcome).toMatchObject({ kind: 'rejected', code: 'malformed' })
    }
  })
})

describe('shape encoding with a protocol level', () => {
  const commands: Command[] = [
    { kind: 'bootstrap', nodeId: 'node-a' },
    { kind: 'add-member', nodeId: 'node-b' },
    { kind: 'add-member', nodeId: 'node-c' },
    { kind: 'promote', nodeId: 'node-b', roles: ['api-server'], pin: true },
    { kind: 'set-catalog', role: 'scheduler', templates: [{ name: 'kube-scheduler.yaml', cid: 'bafkr4ihdsq5ttw4eqrfwscoczdqdp7o3xnsxq7bq5vkmvs3swzcljfmv4e' }] },
    { kind: 'remove-member', nodeId: 'node-c' },
    { kind: 'set-target', target: { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 3 } }
  ]
  function build (extra: Command[] = []): MeshShape {
    let shape = MeshShape.empty()
    for (const c of [...commands, ...extra]) {
      const t = transition(shape, c)
      if (t.kind !== 'applied') throw new Error(JSON.stringify(t))
      shape = t.shape
    }
    return shape
  }

  it('should keep the bytes and CID the build before the gate gave a shape that never raised its level', () => {
    const shape = build()
    // Computed with the build before the protocol gate (the same commands through its transition).
    expect(cidOfValue(shape.toData()).toString()).toBe('bafyr4igeiznuduheuhphhvnx3rk5dwffxjcmtyi5mg27lunpijucasaxna')
    expect(Buffer.from(encodeCanonical(shape.toData())).toString('hex')).toMatch(/^a56470696e73/)
    expect('protocol' in shape.toData()).toBe(false)
  })

  it('should encode a raised level, restore it, and refuse an explicit 1, a bad level or one above the build\'s', () => {
    const raised = build([{ kind: 'set-protocol', level: 3 }])
    expect(raised.toData().protocol).toBe(3)
    expect(cidOfValue(raised.toData()).toString()).not.toBe('bafyr4igeiznuduheuhphhvnx3rk5dwffxjcmtyi5mg27lunpijucasaxna')
    const m = new ShapeMachine(CLUSTER)
    m.restore(encodeCanonical(raised.toData()))
    expect(m.shape.protocol).toBe(3)
    expect(m.snapshot()).toEqual(encodeCanonical(raised.toData()))
    const data = decodeCanonical<Record<string, unknown>>(encodeCanonical(raised.toData()))
    for (const protocol of [1, 0, 'x', 2.5]) {
      expect(() => MeshShape.fromData({ ...data, protocol })).toThrow(expect.objectContaining({ name: 'ShapeDataInvalidError' }))
      expect(m.canRestore(encodeCanonical({ ...data, protocol }))).toBe(false)
    }
    // Above the build's: the typed halt, not a refusal (the driver stops on it, docs/OPERATIONS.md).
    expect(() => MeshShape.fromData({ ...data, protocol: PROTOCOL_LEVEL + 1 })).toThrow(expect.objectContaining({ name: 'ProtocolLevelUnsupportedError' }))
    expect(() => m.canRestore(encodeCanonical({ ...data, protocol: PROTOCOL_LEVEL + 1 }))).toThrow(expect.objectContaining({ name: 'ProtocolLevelUnsupportedError' }))
  })
})
