/**
 * @module netns/errors
 * Operating errors of the network-namespace lab; callers match on `name`.
 */

/** This process cannot build namespaces: not root, or `ip` / `nft` are missing. */
export class NetnsUnavailableError extends Error {
  static override readonly name = 'NetnsUnavailableError'
  constructor (readonly reason: string) {
    super(`network namespaces are unavailable: ${reason}`)
    this.name = 'NetnsUnavailableError'
  }
}

/** An `ip` or `nft` command failed; the message carries the command and its stderr. */
export class NetnsCommandError extends Error {
  static override readonly name = 'NetnsCommandError'
  constructor (readonly args: string[], detail: string) {
    super(`\`${args.join(' ')}\` failed: ${detail.trim()}`)
    this.name = 'NetnsCommandError'
  }
}

/** No free private /24 was left for a lab that needs a host-side address. */
export class NetnsNoFreeSubnetError extends Error {
  static override readonly name = 'NetnsNoFreeSubnetError'
  constructor (base: string) {
    super(`every ${base}.X.0/24 overlaps an address or route of this host; remove a stale testbed (\`revoada testbed down\`)`)
    this.name = 'NetnsNoFreeSubnetError'
  }
}
