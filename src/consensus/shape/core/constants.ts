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
/** Manifest templates per role in the catalog (`invalid-catalog` beyond). */
export const MAX_TEMPLATES_PER_ROLE = 8
/** Length of a template file name. */
export const MAX_TEMPLATE_NAME_LENGTH = 64
/** Length of a template CID's string form (a CIDv1 BLAKE3 in base32 is 61 characters). */
export const MAX_TEMPLATE_CID_LENGTH = 100
/** Characters of a member id (a PeerId string; the envelope accepts the same bound). */
export const MEMBER_ID_CHARS_MAX = 128
/** Removed NodeIds the shape remembers so they are never re-admitted; the oldest is forgotten beyond it. */
export const MAX_REMOVED_REMEMBERED = 1024
/**
 * Commands in one batch envelope (v2). A decoded envelope with more, or with none, is malformed
 * (ProposalBatchTooLargeError / ProposalBatchEmptyError): a peer's count is never trusted.
 */
export const MAX_BATCH_COMMANDS = 64
