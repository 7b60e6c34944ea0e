/**
 * @module node/services
 * The default layer stack of a revoada node, in start order: membership (who is alive), consensus (Raft
 * over libp2p streams with the file WAL, the MeshShape), then the policy engine (which needs both).
 */
import { MembershipService } from '../membership/membership-service.js'
import { ConsensusService } from '../consensus/consensus-service.js'
import { FileStorage } from '../consensus/storage/file-storage.js'
import { RaftTransport } from '../consensus/transport/raft-transport.js'
import { PolicyEngine } from '../policy/engine.js'
import { ContentService, isConfMember } from '../content/index.js'
import type { PolicyEngineInit } from '../policy/engine.js'
import type { NodeService } from './service.js'

export interface DefaultServicesInit {
  policy?: PolicyEngineInit | false
}

/** `policy: false` (or `policy.enabled: false` in the config) leaves the engine out. */
export function defaultServices (init: DefaultServicesInit = {}): NodeService[] {
  const consensus = new ConsensusService({
    openStorage: (dir) => new FileStorage(dir),
    createTransport: (ctx, isMember) => new RaftTransport({ libp2p: ctx.net, isMember, log: ctx.log })
  })
  // Heartbeats echo this node's committed roles; before consensus has started there are none to echo.
  const membership = new MembershipService({
    roles: () => consensus.started ? consensus.shapeMachine.shape.rolesOf(consensus.nodeId) : []
  })
  // Content trusts the peers Raft trusts: voters and learners of the applied configuration.
  const content = new ContentService({ isMember: (peer) => consensus.started && isConfMember(consensus.node.configuration(), peer) })
  const services: NodeService[] = [membership, consensus, content]
  if (init.policy !== false) services.push(new PolicyEngine(init.policy ?? {}))
  return services
}
