/**
 * @module net/constants
 * Limits and names of the network layer.
 */

/** Cluster file inside the data dir: cluster id, pre-shared key and seed addresses (mode 0600). */
export const CLUSTER_FILE_NAME = 'cluster.json'
export const CLUSTER_FILE_MODE = 0o600
export const CLUSTER_FILE_VERSION = 1

/** 256-bit pre-shared key (DESIGN §2), the XSalsa20 key of libp2p pnet. */
export const CLUSTER_KEY_BYTES = 32
/** Random bytes in a cluster id. */
export const CLUSTER_ID_BYTES = 16

/** Versioned join-string prefix; a future format gets `revoada2:`. */
export const JOIN_STRING_PREFIX = 'revoada1:'
/** At most this many addresses go into a join string (keeps it one copy-pasteable line). */
export const JOIN_ADDRESSES_MAX = 8
/** A join string longer than this is rejected before decoding. */
export const JOIN_STRING_CHARS_MAX = 4096

/** Seed addresses kept in cluster.json. */
export const SEEDS_MAX = 16
/** Peers the redial loop tracks; peers beyond this are not redialled (logged once). */
export const REDIAL_PEERS_MAX = 256
/**
 * Removed members the redial loop remembers never to dial again (`Redialer.forget`); beyond it the oldest is
 * forgotten and may become a target again. Equal to the shape's MAX_REMOVED_REMEMBERED (1024,
 * consensus/shape/core/constants.ts), which consensus forgets them from: net does not import consensus.
 */
export const REDIAL_FORGOTTEN_MAX = 1024

/** pnet nonce exchange timeout in ms (the @libp2p/pnet default, named here). */
export const PNET_NONCE_TIMEOUT_MS = 1000

/**
 * Inbound connections accepted per second per remote host. libp2p's default of 5 resets bursts from one IP
 * (libp2p-notes §6); a cluster on one host or behind one NAT needs more.
 */
export const INBOUND_CONNECTION_THRESHOLD = 100
/**
 * Inbound connections being upgraded (pnet, noise, yamux) at once; libp2p refuses any beyond this, and the
 * dialer sees a failed handshake. libp2p's default of 10 refused most joiners of a fleet booting together:
 * every member connects to every other, so the seed of a join string takes N−1 handshakes at once
 * (`npm run bench:scale`, docs/bench/scale.md). Still bounded: pnet drops a dialer without the cluster key
 * within PNET_NONCE_TIMEOUT_MS.
 */
export const INBOUND_PENDING_CONNECTIONS_MAX = 64

/**
 * How long an inbound connection may take to be upgraded (pnet, noise, yamux) before this node drops it.
 * Above the dial timeout (config `net.dialTimeoutMs`, 20 s by default), so a slow handshake is abandoned by
 * neither side while the dialer still waits (libp2p's default is 10 s; issue 16).
 */
export const INBOUND_UPGRADE_TIMEOUT_MS = 30_000

/** Tag that makes libp2p reconnect a dropped member on its own fast path (prefix `keep-alive`). */
export const KEEP_ALIVE_CLUSTER_TAG = 'keep-alive-revoada-cluster'
export const KEEP_ALIVE_TAG_VALUE = 100

/** File of peers seen or announced (NodeId → listen addresses), so a restarted node redials them (mode 0600). */
export const KNOWN_PEERS_FILE_NAME = 'peers.json'
/**
 * Peers kept in peers.json. Beyond it the entry of the non-voter seen least recently is dropped (then a voter's); a
 * non-voter's announcement is left out of a full file (net/known-peers.ts).
 */
export const KNOWN_PEERS_MAX = 256
/** Addresses kept per known peer. */
export const KNOWN_PEER_ADDRS_MAX = 8
