/**
 * @module materializer/addresses
 * The IP address a member is reached at, from the multiaddrs it announces in its signed heartbeats: the first
 * routable IPv4 or IPv6 address, else a loopback one (a testbed on one machine). Unspecified addresses
 * (0.0.0.0, ::) are never used.
 */

const IP_PART = /^\/(ip4|ip6)\/([^/]+)/

function isLoopback (ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1'
}

/** The best address among `multiaddrs`, or undefined. */
export function pickAddress (multiaddrs: readonly string[]): string | undefined {
  let fallback: string | undefined
  for (const text of multiaddrs) {
    const match = IP_PART.exec(text)
    if (match === null) continue
    const ip = match[2]!
    if (ip === '0.0.0.0' || ip === '::') continue
    if (!isLoopback(ip)) return ip
    fallback ??= ip
  }
  return fallback
}
