/**
 * Goal: the leader's intake of a forwarded request (issue 16) refuses, with ForwardedRequestInvalidError, a
 * command naming a member id that is neither the canonical text of an ed25519 PeerId nor a member already
 * (docs/SECURITY.md, "One key, two members"), before the group is queued for the leader's envelope, and
 * takes the same command naming the member by its own id.
 *
 * Goal: a member that floods the leader with forwarded requests under fresh request ids meets a typed
 * refusal once its share of the leader's batch queue is full (ConsensusBusyError, returned, never thrown),
 * logged once per interval for that peer, while another member's request is still taken. Method: the real
 * intake over a real ProposalBatcher whose envelopes never apply (the queue only fills), behind the
 * driver's forwarded-proposal handling over a stub core; b sends 40 requests of 2 commands, then c one.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Signer } from '../../src/codec/index.js'
import { ForwardedRequestIntake } from '../../src/consensus/forwarded-request-intake.js'
import { MeshShape, PROTOCOL_FORWARDED_REQUESTS, PROTOCOL_LEVEL, encodeRequest, isRequestBytes } from '../../src/consensus/shape/core/index.js'
import type { BatchedCommand, CommandGroup } from '../../src/consensus/shape/core/index.js'
import { newSigner } from './shape/helpers.js'
import { ProposalBatcher } from '../../src/consensus/proposal-batcher.js'
import { ForwardedProposals } from '../../src/consensus/forwarded-proposals.js'
import { PendingTable } from '../../src/consensus/pending.js'
import { PerPeerLogLimiter } from '../../src/consensus/log-limiter.js'
import { EntryType, MessageType, ProposalSessions } from '../../src/consensus/core/index.js'
import type { ProposalId } from '../../src/consensus/core/index.js'
import { encodeEntryPayload } from '../../src/consensus/entry-payload.js'

const restore = (n: number): BatchedCommand => ({ command: { kind: 'restore', nodeId: `n${n}` }, reason: 'operator' })

describe('ForwardedRequestIntake', () => {
  let a: Signer, b: Signer
  beforeAll(async () => { [a, b] = await Promise.all([newSigner(), newSigner()]) })

  function intake (): { intake: ForwardedRequestIntake, queued: CommandGroup[] } {
    const members = [[a.nodeId, ['api-server', 'etcd', 'scheduler', 'controller-manager']], [b.nodeId, []]]
      .sort((x, y) => String(x[0]).localeCompare(String(y[0])))
    const shape = MeshShape.fromData({ members, target: { apiServers: 1, etcd: 1, schedulers: 3, controllerManagers: 1, minWorkers: 0 } }).withProtocol(PROTOCOL_LEVEL)
    const queued: CommandGroup[] = []
    return {
      queued,
      intake: new ForwardedRequestIntake({ isLeader: () => true, level: () => PROTOCOL_LEVEL, shape: () => shape, batcher: { submitGroup: (group) => { queued.push(group); return true } } })
    }
  }

  it('should refuse a request naming a member by its CID text or by no peer id, and take one naming it by its id', () => {
    const { intake: take, queued } = intake()
    const requestOf = (nodeId: string, seq: number): { bytes: Uint8Array, id: { clientId: string, seq: number } } => {
      const id = { clientId: `${b.nodeId}/s.r`, seq }
      return { bytes: encodeRequest({ id, commands: [{ command: { kind: 'promote', nodeId, roles: ['scheduler'] }, reason: 'operator' }] }), id }
    }
    const cidText = peerIdFromString(b.nodeId).toCID().toString()
    for (const [k, nodeId] of [cidText, 'peer-x'].entries()) {
      const { bytes, id } = requestOf(nodeId, k + 1)
      const refusal = take.take(bytes, id, b.nodeId)
      expect(refusal?.name).toBe('ForwardedRequestInvalidError')
      expect(refusal?.message).toMatch(/not the canonical text of an ed25519 peer id/)
    }
    expect(queued).toEqual([])
    const { bytes, id } = requestOf(b.nodeId, 3)
    expect(take.take(bytes, id, b.nodeId)).toBeNull()
    expect(queued).toHaveLength(1)
  })
})

describe('forwarded request intake', () => {
  it('should refuse a flooding sender over its share with ConsensusBusyError, logged once per interval, and take another sender\'s request', () => {
    const never = async (): Promise<never> => await new Promise(() => {})
    const batcher = new ProposalBatcher({
      proposeOne: never, proposeBatch: never, proposeMerged: never, encodedBytes: () => 100, self: 'a', forwarding: () => false
    }, { commandsMax: 4, bytesMax: 12_000, inFlightMax: 1, queueMax: 64, groupCommandsPerSenderMax: 8, lingerMaxMs: 0 })
    const intake = new ForwardedRequestIntake({ isLeader: () => true, level: () => PROTOCOL_FORWARDED_REQUESTS, shape: () => ({ has: () => true }) as never, batcher }) // every nN a member: the id check passes
    const warnings: Array<{ from?: string, error?: string }> = []
    const counts = { refusedForwarded: 0, refusedRequests: 0, refusalsAnswered: 0, requestsRefusedByLeader: 0, retriesSkipped: 0 }
    const raw = {
      status: () => ({ confState: { voters: ['a', 'b', 'c'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } }),
      term: () => 1, lastIndex: () => 0, leader: () => 'a', matchOf: () => undefined, proposeMany: () => {}
    }
    const refusals: Error[] = []
    const forwarded = new ForwardedProposals<unknown>({
      id: 'a', log: { info: () => {}, debug: () => {}, warn: (fields: object) => { warnings.push(fields) } }, badInputLog: new PerPeerLogLimiter(() => 0), counts,
      rules: { isRequest: isRequestBytes, identify: () => null, confChangeFor: () => null } as never, nowMs: () => 0,
      proposals: new PendingTable(16, 'proposal') as never, outbox: { send: () => {}, holdsNotices: false, noteForwarded: () => {} },
      raw: () => raw as never, answerRefusals: () => true,
      takeRequest: (command, id, from) => {
        const refusal = intake.take(command, id, from)
        if (refusal !== null) refusals.push(refusal)
        return refusal
      },
      sessions: () => new ProposalSessions() as never, applied: () => 0, proposeAtLeader: () => {}
    })
    const forward = (from: string, id: ProposalId, commands: BatchedCommand[]): void => forwarded.stampForwarded({
      type: MessageType.Prop, from, to: 'a', term: 0, index: 0, logTerm: 0, commit: 0, reject: false, rejectHint: 0,
      entries: [{ index: 0, term: 0, type: EntryType.Normal, data: encodeEntryPayload({ command: encodeRequest({ id, commands }), timeMs: 0 }), proposalId: id }]
    })
    // The first group goes in flight at once; the next four (8 commands, b's share) queue; the rest are refused.
    for (let k = 0; k < 40; k++) forward('b', { clientId: `b/s${k}.r`, seq: 1 }, [restore(2 * k), restore(2 * k + 1)])
    expect(refusals).toHaveLength(35)
    expect(refusals.every((r) => r.name === 'ConsensusBusyError')).toBe(true)
    expect(counts.refusedRequests).toBe(35)
    expect(warnings).toEqual([expect.objectContaining({ from: 'b', error: 'ConsensusBusyError' })])
    forward('c', { clientId: 'c/s.r', seq: 1 }, [restore(100), restore(101)])
    expect(refusals).toHaveLength(35)
  })
})
