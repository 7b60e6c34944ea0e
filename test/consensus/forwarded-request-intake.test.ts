/**
 * Goal: the leader's intake of a forwarded request (issue 16) refuses, with ForwardedRequestInvalidError, a
 * command naming a member id that is neither the canonical text of an ed25519 PeerId nor a member already
 * (docs/SECURITY.md, "One key, two members"), before the group is queued for the leader's envelope, and
 * takes the same command naming the member by its own id.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Signer } from '../../src/codec/index.js'
import { ForwardedRequestIntake } from '../../src/consensus/forwarded-request-intake.js'
import { MeshShape, PROTOCOL_LEVEL, encodeRequest } from '../../src/consensus/shape/core/index.js'
import type { CommandGroup } from '../../src/consensus/shape/core/index.js'
import { newSigner } from './shape/helpers.js'

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
