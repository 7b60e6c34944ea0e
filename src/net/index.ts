/**
 * @module net
 * The network layer's one door: the libp2p node factory, the closed-cluster file and join string, and the
 * redial loop. Later layers use `NetNode` (`node.services.pubsub` for gossip, `node.handle()` for protocols).
 */
export { createNetNode, membershipTopic, membershipDigestTopic, contentTopic } from './libp2p.js'
export type { NetNode, NetNodeInit, NetServices, NetFaults } from './libp2p.js'
export { loadOrCreateCluster, newCluster, pnetKey, keyFingerprint } from './cluster.js'
export type { Cluster } from './cluster.js'
export { encodeJoinString, decodeJoinString } from './join-string.js'
export type { JoinInfo } from './join-string.js'
export { Redialer } from './redial.js'
export { trackKnownPeers } from './known-peers.js'
export type { Announcement, KnownPeers } from './known-peers.js'
export { classifyDialError } from './dial-errors.js'
export { ClusterFileError, ClusterKeyProbablyWrongError, ClusterMismatchError, JoinStringInvalidError, PeerNotAnsweringError } from './errors.js'
export * as netConstants from './constants.js'
