/**
 * @module codec/peer-id
 * The one text a member id may have when a command names it: the base58btc text of an ed25519 PeerId
 * (`12D3KooW…`, what `peerId.toString()` gives), DESIGN.md §2. libp2p reads other texts as the same key —
 * the PeerId's CID in base32 (`bafz…`) or base36 (`k51…`) — and the shape compares ids as strings, so a
 * second text of one key would be a second member (docs/SECURITY.md, "One key, two members"). Pure: the
 * bytes are checked by hand (multiformats' base58btc only), no libp2p parser.
 */
import { base58btc } from 'multiformats/bases/base58'

/**
 * The bytes behind an ed25519 PeerId: the identity multihash (code 0x00, length 0x24 = 36) of the
 * protobuf PublicKey `{Type: Ed25519 (field 1 = 1), Data (field 2): 32 bytes}` (libp2p peer-ids spec).
 */
const ED25519_PEER_ID_PREFIX = Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
const ED25519_PUBLIC_KEY_BYTES = 32
/** base58btc of the 38 bytes above is 52 or 53 characters; longer text is refused before decoding. */
export const PEER_ID_TEXT_CHARS_MAX = 64

/** The field's prime, 2^255 - 19. */
const P = (1n << 255n) - 19n
/** The y of one of the two points of order 8 on edwards25519; the other is P - Y_ORDER_8. */
const Y_ORDER_8 = 0x5fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n
/**
 * The y coordinates of the 8 points of small order (1, 2, 4, 8): the identity (1), order 2 (P - 1), order 4 (0)
 * and order 8. A point is determined up to the sign of x by y, so these cover every encoding of those points.
 */
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, Y_ORDER_8, P - Y_ORDER_8])

/**
 * Whether a 32-byte ed25519 public key encodes a point of small order, in any encoding (x's sign bit ignored,
 * y reduced mod P: OpenSSL takes some non-canonical encodings). OpenSSL verifies signatures by such a key over
 * messages its holder never signed (the identity point "signs" every message with R = identity, S = 0:
 * test/codec/ed25519.test.ts), so a member with one has signatures anyone can make.
 */
export function isSmallOrderEd25519Key (key: Uint8Array): boolean {
  let y = 0n
  for (let i = key.length - 1; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? key[i]! & 0x7f : key[i]!)
  return SMALL_ORDER_Y.has(y % P)
}

/**
 * Why `text` is not the canonical text of an ed25519 PeerId, or null when it is. Never throws.
 * NB: the 32 key bytes are not checked to be a curve point; such an id can sign nothing, so its node can
 * propose nothing and is never heard (no signed heartbeat). A key of small order is refused: it is a point, and
 * signatures by it prove nothing (isSmallOrderEd25519Key).
 */
export function peerIdTextProblem (text: unknown): string | null {
  if (typeof text !== 'string') return `not a string (${typeof text})`
  if (text.length === 0 || text.length > PEER_ID_TEXT_CHARS_MAX) return `${text.length} characters, not 1 to ${PEER_ID_TEXT_CHARS_MAX}`
  let bytes: Uint8Array
  try {
    bytes = base58btc.baseDecode(text)
  } catch {
    return 'not base58btc text (a CID text or any other form of a peer id is refused)'
  }
  if (bytes.length !== ED25519_PEER_ID_PREFIX.length + ED25519_PUBLIC_KEY_BYTES) return 'not an ed25519 peer id'
  for (let i = 0; i < ED25519_PEER_ID_PREFIX.length; i++) if (bytes[i] !== ED25519_PEER_ID_PREFIX[i]) return 'not an ed25519 peer id'
  // One byte string has one base58btc text; checked anyway, as canonicalCidText is for CIDs.
  if (base58btc.baseEncode(bytes) !== text) return 'not the canonical text of its bytes'
  if (isSmallOrderEd25519Key(bytes.subarray(ED25519_PEER_ID_PREFIX.length))) return 'an ed25519 key of small order (a signature by it proves nothing)'
  return null
}
