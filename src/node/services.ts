/**
 * @module node/services
 * The default layer stack of a revoada node, in start order: membership (who is alive), consensus (Raft
 * over libp2p streams with the file WAL, the MeshShape), the attestation chain (hooked into consensus's
 * state machine), content, the address lookup (membership's: the addresses of members the configuration
 * names), then the policy engine (which needs membership and consensus), the materializer, then
 * the operator's views of them all: Prometheus metrics and the live dashboard.
 */
import { MembershipService } from '../membership/membership-service.js'
import { AddressLookupService } from '../membership/address-lookup.js'
import { ConsensusService } from '../consensus/consensus-service.js'
import type { ThreadPriority } from '../util/thread-priority.js'
import { FileStorage } from '../consensus/storage/file-storage.js'
import { RaftTransport } from '../consensus/transport/raft-transport.js'
import { PolicyEngine } from '../policy/engine.js'
import { ContentService, isConfMember, peerWatch } from '../content/index.js'
import type { ContentServiceInit } from '../content/index.js'
import type { PolicyEngineInit } from '../policy/engine.js'
import { MaterializerService } from '../materializer/materializer-service.js'
import { AttestationService } from '../attestation/attestation-service.js'
import type { NodeService } from './service.js'
import { steadyNowMs } from '../util/clock.js'
import { MetricsService, NodeMetrics, TimedStorage } from '../metrics/index.js'
import { DashboardService } from '../dashboard/index.js'

export interface DefaultServicesInit {
  policy?: PolicyEngineInit | false
  /** `false` leaves the materializer out (as does `materializer.enabled: false` in the config). */
  materializer?: boolean
  /**
   * The event loop's thread priority, raised while the node is a voter (consensus/voter-priority.ts): only
   * for a node that owns its process (`revoada start`). @default none
   */
  threadPriority?: ThreadPriority
}

/**
 * Content trusts the peers Raft trusts: voters and learners of the applied configuration. It forgets a
 * provider as soon as the configuration drops it or membership judges it dead, leaving or removed, and
 * subscribes to the content topic once that configuration lists this node (content starts after both, so
 * both are running by then).
 */
export function contentPeers (consensus: ConsensusService, membership: MembershipService): Pick<ContentServiceInit, 'isMember' | 'watchAdmission' | 'watchPeers'> {
  const isMember = (peer: string): boolean => consensus.started && isConfMember(consensus.node.configuration(), peer)
  return {
    isMember,
    watchAdmission: (admitted) => {
      if (isMember(consensus.nodeId)) {
        admitted()
        return () => {}
      }
      // A state change follows every batch that changed the applied configuration; `admitted` is idempotent.
      return consensus.node.onStateChange(() => { if (isMember(consensus.nodeId)) admitted() })
    },
    watchPeers: peerWatch({
      onStateChange: (listener) => consensus.node.onStateChange(listener),
      onMembershipEvents: (listener) => membership.subscribe((_view, events) => { listener(events) })
    })
  }
}

/** `policy: false` (or `policy.enabled: false` in the config) leaves the engine out. */
export function defaultServices (init: DefaultServicesInit = {}): NodeService[] {
  const metrics = new NodeMetrics()
  const attestation = new AttestationService()
  const consensus = new ConsensusService({
    wrapMachine: (shape, ctx) => attestation.attach(shape, ctx),
    departureSeal: attestation.departureSeal(),
    openStorage: (dir) => new TimedStorage(new FileStorage(dir), (seconds) => { metrics.fsyncDuration.observe(seconds) }),
    createTransport: (ctx, isMember) => new RaftTransport({ libp2p: ctx.net, isMember, log: ctx.log }),
    ...(init.threadPriority !== undefined ? { threadPriority: init.threadPriority } : {})
  })
  // Heartbeats echo this node's committed roles; before consensus has started there are none to echo.
  // The applied Raft configuration decides the membership tier (docs/MEMBERSHIP.md, "Large clusters"): roles
  // come from this node's own configuration, never from gossip.
  const membership = new MembershipService({
    roles: () => consensus.started ? consensus.shapeMachine.shape.rolesOf(consensus.nodeId) : [],
    raftConfiguration: () => consensus.started ? consensus.node.configurationView() : undefined,
    inShape: (id) => consensus.started && consensus.shapeMachine.shape.has(id),
    isLeader: () => consensus.started && consensus.node.isLeader(),
    // A joiner that hears no digest asks a connected peer which node leads (docs/MEMBERSHIP.md, "Quiet joiners").
    askLeader: async (peer) => await addresses.askLeader(peer)
  })
  const content = new ContentService(contentPeers(consensus, membership))
  // A member named by the configuration but never heard of is looked up from a connected member (the leader
  // first): the address window of docs/MEMBERSHIP.md.
  const addresses = new AddressLookupService({
    raftConfiguration: () => consensus.started ? consensus.node.configurationView() : undefined,
    leader: () => consensus.started ? consensus.node.leaderId() : undefined,
    // A state change follows every batch that changed the applied configuration (consensus starts first).
    watchConfiguration: (listener) => consensus.started ? consensus.node.onStateChange(listener) : () => {}
  })
  const services: NodeService[] = [membership, consensus, attestation, content, addresses]
  if (init.policy !== false) services.push(new PolicyEngine({ nowMs: steadyNowMs, ...init.policy }))
  if (init.materializer !== false) services.push(new MaterializerService())
  // Last: they read the layers above.
  services.push(new MetricsService(metrics), new DashboardService())
  return services
}
