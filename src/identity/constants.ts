/**
 * @module identity/constants
 * File names and modes for the node identity.
 */

/** Name of the identity file inside the data dir: the libp2p `PrivateKey` protobuf (68 bytes for ed25519). */
export const IDENTITY_FILE_NAME = 'identity.key'

/** Owner read/write only: the key signs everything this node says (DESIGN §2). */
export const IDENTITY_FILE_MODE = 0o600

/** Any of these permission bits set means someone other than the owner can read or change the key. */
export const GROUP_OTHER_BITS = 0o077

/** Mode for a data dir we create. */
export const DATA_DIR_MODE = 0o700
