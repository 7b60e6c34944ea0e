/**
 * @module node/services
 * The default layer stack of a revoada node, in start order: membership (who is alive), consensus (Raft
 * over libp2p streams with the file WAL, the MeshShape), the attestation chain (hooked into consensus's
 * state machine), then the policy engine (which needs membership and consensus).
 */
import { MembershipService } from '../membership/membership-service.js'
import { ConsensusService } from '../consensus/consensus-service.js'
import { FileStorage } from '../consensus/storage/file-storage.js'
import { RaftTransport } from '../consensus/transport/raft-transport.js'
import { PolicyEngine } from '../policy/engine.js'
import type { PolicyEngineInit } from '../policy/engine.js'
import { AttestationService } from '../attestation/attestation-service.js'
import type { NodeService } from './service.js'

export interface DefaultServicesInit {
  policy?: PolicyEngineInit | false
}

/** `policy: false` (or `policy.enabled: false` in the config) leaves the engine out. */
export function defaultServices (init: DefaultServicesInit = {}): NodeService[] {
  const attestation = new AttestationService()
  const consensus = new ConsensusService({
    wrapMachine: (shape, ctx) => attestation.attach(shape, ctx),
    openStorage: (dir) => new FileStorage(dir),
    createTransport: (ctx, isMember) => new RaftTransport({ libp2p: ctx.net, isMember, log: ctx.log })
  })
  // Heartbeats echo this node's committed roles; before consensus has started there are none to echo.
  const membership = new MembershipService({
    roles: () => consensus.started ? consensus.shapeMachine.shape.rolesOf(consensus.nodeId) : []
  })
  const services: NodeService[] = [membership, consensus, attestation]
  if (init.policy !== false) services.push(new PolicyEngine(init.policy ?? {}))
  return services
}
