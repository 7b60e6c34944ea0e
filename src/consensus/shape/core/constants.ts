/**
 * @module consensus/shape/core/constants
 * Hard limits of the MeshShape. A command that would exceed one is committed as a typed rejection.
 */

/** Members the shape holds (`limit-exceeded` beyond). */
export const MAX_MEMBERS = 1024
/** etcd holders (= Raft voters); etcd itself recommends at most 7. */
export const MAX_ETCD_HOLDERS = 7
/** Holders of any other control-plane role. */
export const MAX_ROLE_HOLDERS = 16
/** Bytes of one encoded signed proposal; larger ones are rejected as malformed before decoding. */
export const MAX_PROPOSAL_BYTES = 16 * 1024
/** Removed NodeIds the shape remembers so they are never re-admitted; the oldest is forgotten beyond it. */
export const MAX_REMOVED_REMEMBERED = 1024
