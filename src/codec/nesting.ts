/**
 * @module codec/nesting
 * How deep CBOR bytes nest, found without recursion, so that a decoder that recurses (@ipld/dag-cbor) is
 * only given what it decodes the same way whatever stack is left (DECODE_DEPTH_MAX, constants.ts).
 */
import { decode } from '@ipld/dag-cbor'
import { DECODE_DEPTH_MAX } from './constants.js'
import { MalformedEncodingError } from './errors.js'

/**
 * Whether the first CBOR item of `bytes` opens more than `max` arrays, maps and tags inside one another.
 * Reads heads only, iteratively. Malformed or truncated bytes answer false: the decoder refuses them itself.
 */
export function nestsDeeperThan (bytes: Uint8Array, max: number): boolean {
  return overBounds(bytes, max, Number.MAX_SAFE_INTEGER) === 'deep'
}

/**
 * Which bound the first CBOR item of `bytes` breaks: 'deep' when it opens more than `depthMax` arrays, maps
 * and tags inside one another, 'items' when it holds more than `itemsMax` data items (every head but a
 * break: each one-byte `{}` or `[]` becomes a JS object of tens of bytes), else null. Reads heads only,
 * iteratively. Malformed or truncated bytes answer null: the decoder refuses them itself.
 */
export function overBounds (bytes: Uint8Array, depthMax: number, itemsMax: number): 'deep' | 'items' | null {
  // Items still to read in each open container, innermost last; -1 for an indefinite length (ends at 0xff).
  const open: number[] = []
  let pos = 0
  let items = 0
  while (pos < bytes.length) {
    const initial = bytes[pos++]!
    if (initial === 0xff) {
      if (open.length === 0 || open[open.length - 1] !== -1) return null
      open.pop()
    } else {
      if (++items > itemsMax) return 'items'
      const major = initial >> 5
      const minor = initial & 31
      let n: number
      if (minor < 24) {
        n = minor
      } else if (minor <= 27) {
        const size = 1 << (minor - 24)
        if (pos + size > bytes.length) return null
        n = 0
        for (let i = 0; i < size; i++) n = n * 256 + bytes[pos + i]!
        pos += size
      } else if (minor === 31 && major >= 2 && major <= 5) {
        n = -1
      } else {
        return null // reserved additional information, or a break where none may be
      }
      if (major === 2 || major === 3) {
        if (n === -1) {
          open.push(-1) // chunks follow
        } else {
          if (n > bytes.length - pos) return null
          pos += n
        }
      } else if (major === 4 || major === 5 || major === 6) {
        const inside = major === 6 ? 1 : n === -1 ? -1 : major === 5 ? 2 * n : n
        if (inside !== 0) {
          open.push(inside)
          if (open.length > depthMax) return 'deep'
          continue
        }
      }
      // Integers, simple values and floats: the head was the whole item.
    }
    // One item done: it counts against its container, and a container done counts against its parent.
    while (open.length > 0) {
      const top = open.length - 1
      if (open[top] === -1) break
      open[top]!--
      if (open[top]! > 0) break
      open.pop()
    }
    if (open.length === 0) return null
  }
  return null
}

/**
 * @ipld/dag-cbor's decode of `bytes` with nesting bounded by DECODE_DEPTH_MAX, without the canonical check:
 * for formats decoded leniently since their first build (an entry payload, a conf-change context) and for
 * whatever a node reads from a peer or its disk outside the canonical path (frames, WAL records, snapshots,
 * content messages, join strings). Every error it throws is a MalformedEncodingError: a stack overflow inside
 * the decoder can no longer happen, and whatever else the library throws is wrapped. `itemsMax`, for formats
 * whose honest messages are small, refuses a flood of tiny items before any is built.
 * @throws MalformedEncodingError when the bytes nest deeper, hold more than `itemsMax` items or are not DAG-CBOR
 */
export function decodeBounded<T = unknown> (bytes: Uint8Array, itemsMax = Number.MAX_SAFE_INTEGER): T {
  const over = overBounds(bytes, DECODE_DEPTH_MAX, itemsMax)
  if (over === 'deep') throw new MalformedEncodingError(`nesting deeper than ${DECODE_DEPTH_MAX} levels`)
  if (over === 'items') throw new MalformedEncodingError(`more than ${itemsMax} data items`)
  try {
    return decode(bytes) as T
  } catch (err) {
    throw new MalformedEncodingError(`cannot decode: ${(err as Error).message}`)
  }
}
