/**
 * @module netns/subnet
 * Picks a private /24 for a lab whose host-side address must not clash with anything the host already
 * routes. Pure: the host's prefixes come in as strings.
 */

/** `a.b.c.d/len` (or a bare address, /32) as [first address, last address] numbers; null when malformed. */
export function ipv4Range (prefix: string): [number, number] | null {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(prefix)
  if (match === null) return null
  const octets = match.slice(1, 5).map(Number)
  const length = match[5] === undefined ? 32 : Number(match[5])
  if (octets.some((o) => o > 255) || length > 32) return null
  const address = octets.reduce((acc, o) => acc * 256 + o, 0)
  const size = 2 ** (32 - length)
  const first = address - (address % size)
  return [first, first + size - 1]
}

/** Whether two prefixes share any address. Malformed prefixes share nothing. */
export function prefixesOverlap (a: string, b: string): boolean {
  const x = ipv4Range(a)
  const y = ipv4Range(b)
  return x !== null && y !== null && x[0] <= y[1] && y[0] <= x[1]
}

/**
 * The first `<base>.X` (X from `start`, wrapping through 0..255) whose /24 overlaps none of `used`, or null.
 * `0.0.0.0/0` (a default route) is not a use: it covers everything and routes none of it locally.
 */
export function pickFreeSubnet (used: string[], base: string, start: number): string | null {
  const relevant = used.filter((p) => !p.endsWith('/0'))
  for (let step = 0; step < 256; step++) {
    const candidate = `${base}.${(start + step) % 256}`
    if (!relevant.some((p) => prefixesOverlap(p, `${candidate}.0/24`))) return candidate
  }
  return null
}
