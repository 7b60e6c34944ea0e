/**
 * @module net/join-string
 * The one-line join string (issue 2 item 6): `revoada1:` + base64url of a deterministic CBOR map
 * `{c: clusterId, k: key bytes, a: [multiaddr strings]}`. It carries the cluster secret: treat it like a
 * password. Addresses carry no PeerId requirement; the joiner dials them and learns the id from noise.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { decodeBounded } from '../codec/index.js'
import { multiaddr } from '@multiformats/multiaddr'
import { CLUSTER_KEY_BYTES, JOIN_ADDRESSES_MAX, JOIN_STRING_CHARS_MAX, JOIN_STRING_PREFIX } from './constants.js'
import { JoinStringInvalidError } from './errors.js'

/** What a join string carries. */
export interface JoinInfo {
  clusterId: string
  /** The 32-byte pre-shared key. */
  key: Uint8Array
  /** Dialable multiaddrs of a member (without `/p2p/`), best first. */
  addresses: string[]
}

/** Encodes a join string; at most JOIN_ADDRESSES_MAX addresses are kept. */
export function encodeJoinString (info: JoinInfo): string {
  if (info.key.length !== CLUSTER_KEY_BYTES) throw new JoinStringInvalidError('key must be 32 bytes')
  const record = { a: info.addresses.slice(0, JOIN_ADDRESSES_MAX), c: info.clusterId, k: info.key }
  return JOIN_STRING_PREFIX + Buffer.from(dagCbor.encode(record)).toString('base64url')
}

/**
 * Decodes and validates a join string.
 *
 * @throws JoinStringInvalidError naming what is wrong
 */
export function decodeJoinString (text: string): JoinInfo {
  const s = text.trim()
  if (s.length > JOIN_STRING_CHARS_MAX) throw new JoinStringInvalidError('too long')
  if (!s.startsWith(JOIN_STRING_PREFIX)) {
    throw new JoinStringInvalidError(`expected prefix "${JOIN_STRING_PREFIX}" (from \`revoada join-string\`)`)
  }
  let record: unknown
  try {
    // Bounded: a pasted string nested deeper than the stack allows fails alike wherever it is read.
    record = decodeBounded(Buffer.from(s.slice(JOIN_STRING_PREFIX.length), 'base64url'))
  } catch {
    throw new JoinStringInvalidError('payload is not valid base64url CBOR (was it truncated?)')
  }
  if (typeof record !== 'object' || record === null) throw new JoinStringInvalidError('payload is not a map')
  const { a, c, k } = record as { a?: unknown, c?: unknown, k?: unknown }
  if (typeof c !== 'string' || c === '') throw new JoinStringInvalidError('missing cluster id')
  if (!(k instanceof Uint8Array) || k.length !== CLUSTER_KEY_BYTES) throw new JoinStringInvalidError('bad key')
  if (!Array.isArray(a) || a.length === 0 || a.length > JOIN_ADDRESSES_MAX) {
    throw new JoinStringInvalidError('no addresses')
  }
  for (const addr of a) {
    // NB: multiaddr() also accepts bytes, so the type is checked first (found by `npm run fuzz -- --target join-string`).
    if (typeof addr !== 'string') throw new JoinStringInvalidError(`address of type ${typeof addr} is not a string`)
    try {
      multiaddr(addr)
    } catch {
      throw new JoinStringInvalidError(`bad address ${String(addr)}`)
    }
  }
  return { clusterId: c, key: k, addresses: a as string[] }
}
