/**
 * Forwarded requests and merged envelopes (issue 16). Goal: a follower's unsigned request decodes only
 * when it is exactly a bounded list of operator role shifts under a `<NodeId>/<session>` id; a leader's
 * v3 envelope decodes strictly (groups, `via`, one id per session per entry) and applies its groups in
 * order, skipping a group whose `via` the session table already knows, so a request is applied once.
 * Method: real signers, the proposer and the shape machine; the session table is stood in for by the
 * injected lookup, exactly as the driver injects it.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import {
  MAX_BATCH_COMMANDS, MAX_PROPOSAL_BYTES, decodeProposalOrError, decodeRequest, decodeSignedProposal, encodeRequest,
  envelopeCommands, envelopeRequestIds, isRequestBytes
} from '../../../src/consensus/shape/core/index.js'
import type { BatchedCommand, CommandGroup, Outcome } from '../../../src/consensus/shape/core/index.js'
import { newSigner, restoredMachine, signEnvelopeValue } from './helpers.js'

const CLUSTER = 'cluster-1'

const codes = (outcomes: Outcome[] | undefined): string[] => (outcomes ?? []).map((o) => o.kind === 'applied' ? 'applied' : o.code)

describe('forwarded requests and merged envelopes (v3)', () => {
  let a: Signer, b: Signer, c: Signer
  beforeAll(async () => { [a, b, c] = await Promise.all([newSigner(), newSigner(), newSigner()]) })

  /** a holds every role (the leader); b and c are workers that forward requests. */
  const machine = (): ShapeMachine => restoredMachine(CLUSTER, [[a.nodeId, ['api-server', 'etcd', 'scheduler', 'controller-manager']], [b.nodeId, []], [c.nodeId, []]],
    { apiServers: 1, etcd: 1, schedulers: 3, controllerManagers: 1, minWorkers: 0 })

  const promote = (id: string, role: 'scheduler' | 'api-server' = 'scheduler'): BatchedCommand => ({ command: { kind: 'promote', nodeId: id, roles: [role] }, reason: 'operator' })
  const viaB = (seq: number): { clientId: string, seq: number } => ({ clientId: `${b.nodeId}/s.r`, seq })
  const viaC = (seq: number): { clientId: string, seq: number } => ({ clientId: `${c.nodeId}/s.r`, seq })

  /** Signs any envelope-shaped value (for malformed ones the proposer would never build). */
  const signed = (value: unknown, by: Signer = a): Uint8Array => signEnvelopeValue(value, by, CLUSTER)
  const mergedValue = (groups: unknown[], clientId = `${a.nodeId}/s`): Record<string, unknown> =>
    ({ v: 3, clusterId: CLUSTER, groups, proposer: a.nodeId, proposalId: { clientId, seq: 1 }, proposedAtMs: 1 })

  describe('request', () => {
    it('should round-trip a request and tell it from a signed proposal and a seal entry', () => {
      const request = { id: viaB(3), commands: [promote(c.nodeId), { command: { kind: 'restore' as const, nodeId: c.nodeId }, reason: 'operator' as const }] }
      const bytes = encodeRequest(request)
      expect(isRequestBytes(bytes)).toBe(true)
      expect(decodeRequest(bytes)).toEqual(request)
      expect(isRequestBytes(new ShapeProposer(a, CLUSTER, 's').buildBatch([promote(b.nodeId), promote(c.nodeId)], 1).bytes)).toBe(false)
      expect(isRequestBytes(encodeCanonical({ seal: { v: 1 } }))).toBe(false)
      // Not a signed proposal: committed anyway (by a hostile leader) it is a typed rejection.
      expect(decodeSignedProposal(bytes)).toBeNull()
    })

    it('should refuse garbage, an id that names no node, too many commands, too many bytes and commands that never travel in one', () => {
      const name = (bytes: Uint8Array): string => { const d = decodeRequest(bytes); return d instanceof Error ? `${d.name}: ${d.message}` : 'ok' }
      const raw = (request: unknown): Uint8Array => encodeCanonical({ request })
      expect(name(Uint8Array.from([0xa1, 0x67, 0x72, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74, 0xff]))).toMatch(/^ForwardedRequestInvalidError: .*canonical/)
      expect(name(raw({ id: { clientId: 'no-slash', seq: 1 }, commands: [promote(c.nodeId)] }))).toMatch(/request id/)
      expect(name(raw({ id: { clientId: '/x', seq: 1 }, commands: [promote(c.nodeId)] }))).toMatch(/request id/)
      expect(name(raw({ id: viaB(1), commands: [] }))).toMatch(/non-empty/)
      expect(name(raw({ id: viaB(1), commands: Array.from({ length: MAX_BATCH_COMMANDS + 1 }, () => promote(c.nodeId)) }))).toMatch(/65 commands/)
      expect(name(raw({ id: viaB(1), commands: [promote(c.nodeId)], extra: 1 }))).toMatch(/unexpected keys/)
      for (const command of [
        { kind: 'add-member', nodeId: c.nodeId }, { kind: 'remove-member', nodeId: c.nodeId }, { kind: 'rejoin', nodeId: c.nodeId },
        { kind: 'bootstrap', nodeId: c.nodeId }, { kind: 'set-target', target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 0 } }
      ]) {
        expect(name(raw({ id: viaB(1), commands: [{ command, reason: 'operator' }] }))).toMatch(/operator role shift/)
      }
      const big = new Uint8Array(MAX_PROPOSAL_BYTES + 1)
      big.set([0xa1, 0x67, 0x72, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74])
      expect(name(big)).toMatch(/bytes, at most/)
    })
  })

  describe('merged envelope', () => {
    it('should round-trip the leader\'s own commands first, then each forwarded group under its via', () => {
      const groups: CommandGroup[] = [{ commands: [promote(b.nodeId)], via: viaB(1) }, { commands: [promote(c.nodeId), promote(c.nodeId, 'api-server')], via: viaC(4) }]
      const built = new ShapeProposer(a, CLUSTER, `${a.nodeId}/s`).buildMerged([promote(a.nodeId, 'api-server')], groups, 9.5)
      const decoded = decodeSignedProposal(built.bytes)
      expect(decoded?.envelope).toEqual({ v: 3, clusterId: CLUSTER, groups: [{ commands: [promote(a.nodeId, 'api-server')] }, ...groups], proposer: a.nodeId, proposalId: { clientId: `${a.nodeId}/s`, seq: 1 }, proposedAtMs: 9 })
      expect(envelopeRequestIds(decoded!.envelope)).toEqual([viaB(1), viaC(4)])
      expect(envelopeCommands(decoded!.envelope)).toHaveLength(4)
      // Without its own commands the leader's envelope is the forwarded groups alone.
      const only = decodeSignedProposal(new ShapeProposer(a, CLUSTER, `${a.nodeId}/s`).buildMerged([], groups, 1).bytes)
      expect(only?.envelope.v === 3 && only.envelope.groups).toEqual(groups)
    })

    it('should refuse a merged envelope that is not exactly one meaning in one encoding', () => {
      const err = (groups: unknown[], clientId?: string): string => {
        const d = decodeProposalOrError(signed(mergedValue(groups, clientId)))
        return d instanceof Error ? d.name : 'ok'
      }
      const own = { commands: [promote(a.nodeId, 'api-server')] }
      const fromB = { commands: [promote(b.nodeId)], via: viaB(1) }
      expect(err([own, fromB])).toBe('ok')
      expect(err([own])).toBe('MalformedProposalError') // no forwarded group: that is a v2 batch
      expect(err([fromB, own])).toBe('MalformedProposalError') // a group without via after the first
      expect(err([fromB, { commands: [promote(c.nodeId)], via: viaB(2) }])).toBe('MalformedProposalError') // one session twice
      expect(err([{ ...fromB, via: { clientId: `${a.nodeId}/s`, seq: 5 } }], `${a.nodeId}/s`)).toBe('MalformedProposalError') // the envelope's own session
      expect(err([{ ...fromB, via: { clientId: 'noslash', seq: 5 } }])).toBe('MalformedProposalError')
      expect(err([{ commands: [], via: viaB(1) }, { commands: [promote(c.nodeId)], via: viaC(1) }])).toBe('MalformedProposalError')
      expect(err([{ commands: [{ command: { kind: 'add-member', nodeId: c.nodeId }, reason: 'admission' }], via: viaB(1) }])).toBe('MalformedProposalError')
      expect(err([{ ...fromB, extra: 1 }])).toBe('MalformedProposalError')
      expect(err([{ commands: [], via: viaB(1) }])).toBe('ProposalBatchEmptyError')
      expect(err([{ commands: Array.from({ length: MAX_BATCH_COMMANDS }, () => promote(c.nodeId)), via: viaC(1) }, fromB])).toBe('ProposalBatchTooLargeError')
      expect(err(Array.from({ length: MAX_BATCH_COMMANDS + 1 }, (_, i) => ({ commands: [promote(c.nodeId)], via: { clientId: `${c.nodeId}/${i}`, seq: 1 } })))).toBe('ProposalBatchTooLargeError')
    })

    it('should apply the groups in order, each command to the shape the previous left, and report the forwarded groups that applied', () => {
      const m = machine()
      const built = new ShapeProposer(a, CLUSTER, `${a.nodeId}/s`).buildMerged([promote(b.nodeId)], [
        // Already held after the leader's own command: rejected by sequential application.
        { commands: [promote(b.nodeId), promote(c.nodeId)], via: viaB(1) },
        { commands: [{ command: { kind: 'quarantine', nodeId: c.nodeId }, reason: 'health-degraded' }], via: viaC(1) }
      ], 1)
      const applied = m.apply(built.bytes, { index: 5, term: 2, timeMs: 0, requestLookup: () => 'new' })
      expect(applied.accepted).toBe(true)
      expect(codes(applied.result.outcomes)).toEqual(['applied', 'role-already-held', 'applied', 'applied'])
      expect(applied.groups?.map((g) => [g.id, codes(g.result.outcomes), g.result.index, g.result.cid])).toEqual([
        [viaB(1), ['role-already-held', 'applied'], 5, built.cid], [viaC(1), ['applied'], 5, built.cid]
      ])
      expect(m.shape.isQuarantined(c.nodeId)).toBe(true)
    })

    it('should skip a group the session table already applied (duplicate) or no longer knows (stale), changing nothing for it', () => {
      const proposer = new ShapeProposer(a, CLUSTER, `${a.nodeId}/s`)
      const groups: CommandGroup[] = [{ commands: [promote(b.nodeId)], via: viaB(1) }, { commands: [promote(c.nodeId)], via: viaC(1) }]
      const m = machine()
      const seen = new Map<string, 'duplicate' | 'stale'>([[`${viaB(1).clientId}/1`, 'duplicate'], [`${viaC(1).clientId}/1`, 'stale']])
      const applied = m.apply(proposer.buildMerged([], groups, 1).bytes, { index: 9, term: 2, timeMs: 0, requestLookup: (id) => seen.get(`${id.clientId}/${id.seq}`) ?? 'new' })
      expect(codes(applied.result.outcomes)).toEqual(['duplicate-request', 'stale-request'])
      expect(applied.result.outcome).toEqual({ kind: 'applied' })
      expect(applied.groups).toBeUndefined()
      expect(m.shape.rolesOf(b.nodeId)).toEqual(['worker'])
      expect(m.shape.rolesOf(c.nodeId)).toEqual(['worker'])
      // The same bytes with both new apply both: the skip is the lookup's, not the bytes'.
      const fresh = machine()
      fresh.apply(proposer.buildMerged([], groups, 1).bytes, { index: 9, term: 2, timeMs: 0, requestLookup: () => 'new' })
      expect(fresh.shape.rolesOf(b.nodeId)).toEqual(['scheduler'])
    })

    it('should refuse every command of a badly signed merged envelope and report no group applied', () => {
      const m = machine()
      const value = mergedValue([{ commands: [promote(b.nodeId)], via: viaB(1) }, { commands: [promote(c.nodeId)], via: viaC(1) }])
      const forged = signed(value, b) // proposer a, signed by b
      const applied = m.apply(forged, { index: 3, term: 1, timeMs: 0, requestLookup: () => 'new' })
      expect(applied.accepted).toBe(false)
      expect(codes(applied.result.outcomes)).toEqual(['bad-signature', 'bad-signature'])
      expect(applied.groups).toBeUndefined()
      // A merged envelope never travels in a configuration change.
      const valid = signed(value)
      const inChange = m.apply(valid, { index: 4, term: 1, timeMs: 0, confChange: { steps: [], transition: 'auto' } })
      expect(codes(inChange.result.outcomes)).toEqual(['voter-mismatch', 'voter-mismatch'])
    })
  })
})
