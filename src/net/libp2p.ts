/**
 * @module net/libp2p
 * Builds the libp2p node of a cluster member: tcp, pnet (cluster key), noise, yamux, identify, ping,
 * gossipsub (`@libp2p/gossipsub`: the @chainsafe 14.x line targets libp2p 2 and fails silently on 3),
 * bootstrap from the seeds, optional mDNS. libp2p's connection monitor is off: the node's link monitor
 * (net/link-monitor.ts) pings only the connections that received nothing for half a round and drops one
 * whose ping is not answered within a generous timeout (membership drops a suspect member's connection sooner).
 * Pitfalls behind these choices are in /work/shared/reference/libp2p-notes.md and docs/STACK.md.
 */
import { installYamuxWindowThreshold } from './yamux-window.js'
import { installEd25519KeyCache } from './ed25519-keys.js'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import type { Ping } from '@libp2p/ping'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import type { TopicScoreParams } from '@libp2p/gossipsub/score'
import type { FastMsgIdFn } from '@libp2p/gossipsub/types'
import { mdns } from '@libp2p/mdns'
import type { PeerDiscovery, PrivateKey, ComponentLogger } from '@libp2p/interface'
import type { Config } from '../config/index.js'
import { clusterKeyProtector } from './pnet.js'
import { transportNoiseCrypto } from './noise-crypto.js'
import { fastNoiseFrames } from './noise-frames.js'
import type { Cluster } from './cluster.js'
import type { LinkActivity } from './link-monitor.js'
import { openOutboundStreamsPerPeer } from './gossip-streams.js'

/** The gossipsub topic of a cluster's membership heartbeats (layer A publishes on it). */
export function membershipTopic (clusterId: string): string {
  return `revoada/${clusterId}/membership/1`
}

/**
 * The gossipsub topic of a tiered cluster's liveness digests (docs/MEMBERSHIP.md, "Large clusters"): the
 * leader publishes, non-voters subscribe.
 */
export function membershipDigestTopic (clusterId: string): string {
  return `revoada/${clusterId}/membership-digest/2`
}

/** The gossipsub topic of a cluster's content announcements (layer C's have/want, docs/CONTENT.md §4). */
export function contentTopic (clusterId: string): string {
  return `revoada/${clusterId}/content/1`
}

/**
 * Gossipsub topic score parameters that count only invalid messages (rejected by the topic's validator:
 * forged, malformed, oversize, from a non-member): -10 × count², so three of them graylist the sender until
 * the penalty decays (× 0.3 per decay interval). Mesh delivery-rate penalties stay off: a quiet topic must
 * never make honest peers look bad.
 */
export function invalidOnlyTopicScore (): TopicScoreParams {
  return {
    topicWeight: 1,
    timeInMeshWeight: 0,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 1,
    firstMessageDeliveriesWeight: 0,
    firstMessageDeliveriesDecay: 0.5,
    firstMessageDeliveriesCap: 1,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 1,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.3
  }
}
import { INBOUND_CONNECTION_THRESHOLD, INBOUND_PENDING_CONNECTIONS_MAX, INBOUND_UPGRADE_TIMEOUT_MS, PNET_NONCE_TIMEOUT_MS } from './constants.js'

/**
 * Gossipsub's fast message id: the sender's PeerId bytes and sequence number, read from the frame before
 * anything is verified. Under strict signing the message id is that same pair (the key and seqno), so this
 * names the same message; what it changes is the order. Without it gossipsub verifies the ed25519 signature
 * of every copy and only then finds it a duplicate: with flood publishing plus mesh forwarding each node
 * receives about D + 1 copies of every heartbeat (docs/bench/scale.md). A forged copy cannot poison the
 * cache: gossipsub records the fast id only once a copy passed verification.
 */
export const senderSeqnoMessageId: FastMsgIdFn = (message) => {
  const { from, seqno } = message
  // Without both fields the message is invalid under strict signing; an id no valid message has. (':' is
  // outside the base64 alphabet: the two parts cannot run into each other.)
  if (from === undefined || seqno === undefined) return ''
  return `${Buffer.from(from.buffer, from.byteOffset, from.byteLength).toString('base64')}:${Buffer.from(seqno.buffer, seqno.byteOffset, seqno.byteLength).toString('base64')}`
}

/**
 * Gossipsub mesh degree (defaults D=6, Dlo=4, Dhi=12, Dlazy=6). With flood publishing every member already
 * receives each message straight from its author; mesh forwarding sends D more copies of it to every node.
 * In a full mesh of N members that is N × (D + 1) deliveries per heartbeat, so D is kept small: 3 still
 * relays around a missing connection (a joiner known to one member only, a broken link) through three paths.
 * Dout must stay below Dlo and at most D / 2; Dscore at most D. Measured in docs/bench/scale.md.
 */
const MESH_DEGREE = { D: 3, Dlo: 2, Dhi: 6, Dscore: 2, Dout: 1 } as const

/**
 * IHAVE gossip: each gossipsub heartbeat (1 s) a node advertises the ids of the messages it published or
 * forwarded lately to max(Dlazy, gossipFactor × its non-mesh peers) of them (defaults 6 and 0.25). Every
 * member is connected to every other and got those messages from their author (flood publish), so in a
 * cluster these advertisements almost never bring a copy; they are the repair path for a message lost on
 * its way. gossipFactor 0 keeps them at Dlazy = 3 peers whatever the size: 3 IHAVE messages sent and ≈ 3
 * received per node per second, instead of ≈ 5 at 25 members and ≈ 11 at 50 (issue 16, docs/bench/scale.md).
 */
export const IHAVE_GOSSIP = { Dlazy: 3, gossipFactor: 0 } as const

/**
 * Smallest gossip message (data bytes) for which gossipsub sends IDONTWANT (its default: 512). On receiving a
 * new message that large, a node tells each of its mesh peers but the sender, one control message per peer,
 * not to forward it a copy. That pays only when the copy spared is large; for a heartbeat it is one more write
 * per mesh peer per heartbeat received, and a heartbeat with a few node labels passes 512 B: at 10 idle
 * members with three labels, ≈ 113 writes a second per node instead of ≈ 43 (docs/MEMBERSHIP.md;
 * docs/bench/scale.md "Idle cost per heartbeat"). Above 8 KiB (membership's MAX_HEARTBEAT_BYTES), no
 * heartbeat, witness (≤ 1 KiB) or content announcement (a full 64-item `have` is ≈ 3.7 KiB) triggers it;
 * larger messages (decision records are accepted up to 64 KiB, content messages up to 16 KiB) still do.
 */
export const IDONTWANT_MIN_DATA_BYTES = 8 * 1024 + 1

/** The services every revoada libp2p node has; later layers reach gossip through `services.pubsub`. */
export type NetServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
}

/** The libp2p node type used across revoada. */
export type NetNode = Libp2p<NetServices>

/** Inputs of `createNetNode`. */
export interface NetNodeInit {
  privateKey: PrivateKey
  cluster: Cluster
  listen: string[]
  announce?: string[]
  net: Config['net']
  /** Stamps what each connection receives, for the node's link monitor (net/link-monitor.ts). */
  activity?: LinkActivity
  /** Test-only fault hook: connections to or from a blocked peer are refused (a network partition). */
  faults?: NetFaults
}

/** A fault hook for partition tests: which peers this node cannot reach right now. */
export interface NetFaults {
  isBlocked: (peerId: string) => boolean
}

/**
 * Creates and starts the libp2p node; its gossipsub then opens outbound streams per peer, not one at a time for
 * the whole node (gossip-streams.ts openOutboundStreamsPerPeer).
 *
 * Seeds are not passed to @libp2p/bootstrap: bootstrap needs `/p2p/<id>` in every entry and dials once,
 * while join addresses carry no PeerId; the node's redial loop (net/redial.ts) dials them instead.
 */
export async function createNetNode (init: NetNodeInit): Promise<NetNode> {
  const peerDiscovery: Array<(components: { logger: ComponentLogger }) => PeerDiscovery> = []
  if (init.net.mdns) peerDiscovery.push(mdns() as unknown as (c: { logger: ComponentLogger }) => PeerDiscovery)
  const blocked = (peerId: { toString(): string }): boolean => init.faults?.isBlocked(peerId.toString()) === true
  installYamuxWindowThreshold()
  await installEd25519KeyCache()
  const node = await createLibp2p({
    ...(init.faults !== undefined
      ? {
          connectionGater: {
            denyDialPeer: async (peerId) => blocked(peerId),
            denyInboundEncryptedConnection: async (peerId) => blocked(peerId),
            denyOutboundEncryptedConnection: async (peerId) => blocked(peerId)
          }
        }
      : {}),
    privateKey: init.privateKey,
    addresses: { listen: init.listen, announce: init.announce ?? [] },
    transports: [tcp()],
    connectionProtector: clusterKeyProtector(init.cluster.key, PNET_NONCE_TIMEOUT_MS, undefined, init.activity),
    connectionEncrypters: [fastNoiseFrames(noise({ crypto: transportNoiseCrypto }))],
    streamMuxers: [yamux()],
    peerDiscovery,
    connectionManager: {
      inboundConnectionThreshold: INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: INBOUND_PENDING_CONNECTIONS_MAX,
      inboundUpgradeTimeout: Math.max(INBOUND_UPGRADE_TIMEOUT_MS, init.net.dialTimeoutMs),
      dialTimeout: init.net.dialTimeoutMs,
      addressDialTimeout: init.net.dialTimeoutMs
    },
    // Dead links are found by net/link-monitor.ts, which pings only connections that received nothing for
    // half a round; libp2p's own monitor pinged every connection on a new stream every round (node/index.ts).
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      ping: ping(),
      // Mesh degree (MESH_DEGREE, below): a member publishes to every connected subscriber (flood publish) —
      // every other member, except that above 16 members an observer keeps only the voters and its ring
      // neighbours (docs/MEMBERSHIP.md "Bounded connections for observers") — so the mesh relays around a
      // missing connection; each mesh peer is one more copy of every message on every node. Dlo = 2 still keeps both peers of a 3-node cluster in the mesh.
      // All members may share one IP (tests, one host), so IP colocation must not graylist them.
      // The membership and content topics score invalid messages only (invalidOnlyTopicScore).
      pubsub: gossipsub({
        ...MESH_DEGREE,
        ...IHAVE_GOSSIP,
        idontwantMinDataSize: IDONTWANT_MIN_DATA_BYTES,
        fastMsgIdFn: senderSeqnoMessageId,
        scoreParams: {
          IPColocationFactorWeight: 0,
          topics: {
            [membershipTopic(init.cluster.clusterId)]: invalidOnlyTopicScore(),
            [membershipDigestTopic(init.cluster.clusterId)]: invalidOnlyTopicScore(),
            [contentTopic(init.cluster.clusterId)]: invalidOnlyTopicScore()
          }
        }
      })
    }
  })
  openOutboundStreamsPerPeer(node)
  return node
}
