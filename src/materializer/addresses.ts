/**
 * @module materializer/addresses
 * The IP address a member is reached at, from the multiaddrs it announces in its signed heartbeats: the first
 * routable IPv4 or IPv6 address, else a loopback one (a testbed on one machine). Unspecified addresses
 * (0.0.0.0, ::) are never used. A heartbeat's addresses are peer input, checked there only as short strings,
 * and what this picks goes into other nodes' manifests (etcd's `--initial-cluster`, the api-server endpoints):
 * an IP part that is not an IP literal of its protocol (`/ip4/10.0.0.9,x=https:` would add an etcd member) is
 * skipped.
 */
import { isIPv4, isIPv6 } from 'node:net'

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
    if (!(match[1] === 'ip4' ? isIPv4(ip) : isIPv6(ip))) continue
    if (ip === '0.0.0.0' || ip === '::') continue
    if (!isLoopback(ip)) return ip
    fallback ??= ip
  }
  return fallback
}
