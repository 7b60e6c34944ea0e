/**
 * @module membership/addresses
 * What a peer's address list may put in the peer store: only the multiaddrs it wrote as their canonical text.
 * A node sends `Multiaddr.toString()` (heartbeats, digests and lookup answers alike), so a text the parser
 * would rewrite (`//ip4/…`, found by the fuzzer) is not what any node sends, and the peer store keeps only
 * addresses exactly as they were sent. Each address is a dial hint on its own: a bad one is dropped, not the
 * list (a dial proves the PeerId anyway: noise).
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'

const P2P_SUFFIX = /\/p2p\/([^/]+)$/

/** The non-empty addresses that parse as multiaddrs written as their canonical text (lookup answers carry no `/p2p/`). */
export function parseAddresses (addresses: readonly string[]): Multiaddr[] {
  const out: Multiaddr[] = []
  for (const address of addresses) {
    const parsed = parseCanonical(address)
    if (parsed !== undefined) out.push(parsed)
  }
  return out
}

/**
 * A member's own addresses from its heartbeat or a digest, without their `/p2p/` suffix (the peer store holds
 * them under the owner's id). A node advertises `…/p2p/<its own id>`; an address ending in another node's id
 * is not one of the owner's and is dropped, as is any address `parseAddresses` would drop.
 */
export function parseAdvertisedAddresses (addresses: readonly string[], owner: string): Multiaddr[] {
  const out: Multiaddr[] = []
  for (const address of addresses) {
    const suffix = P2P_SUFFIX.exec(address)
    if (suffix !== null && suffix[1] !== owner) continue
    const parsed = parseCanonical(suffix === null ? address : address.slice(0, suffix.index))
    if (parsed !== undefined) out.push(parsed)
  }
  return out
}

function parseCanonical (text: string): Multiaddr | undefined {
  try {
    const parsed = multiaddr(text)
    return parsed.toString() === text && text !== '/' ? parsed : undefined // `/` parses, and names nothing
  } catch {
    return undefined // not a multiaddr: skipped
  }
}
