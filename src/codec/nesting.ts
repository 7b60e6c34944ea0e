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
  // Items still to read in each open container, innermost last; -1 for an indefinite length (ends at 0xff).
  const open: number[] = []
  let pos = 0
  while (pos < bytes.length) {
    const initial = bytes[pos++]!
    if (initial === 0xff) {
      if (open.length === 0 || open[open.length - 1] !== -1) return false
      open.pop()
    } else {
      const major = initial >> 5
      const minor = initial & 31
      let n: number
      if (minor < 24) {
        n = minor
      } else if (minor <= 27) {
        const size = 1 << (minor - 24)
        if (pos + size > bytes.length) return false
        n = 0
        for (let i = 0; i < size; i++) n = n * 256 + bytes[pos + i]!
        pos += size
      } else if (minor === 31 && major >= 2 && major <= 5) {
        n = -1
      } else {
        return false // reserved additional information, or a break where none may be
      }
      if (major === 2 || major === 3) {
        if (n === -1) {
          open.push(-1) // chunks follow
        } else {
          if (n > bytes.length - pos) return false
          pos += n
        }
      } else if (major === 4 || major === 5 || major === 6) {
        const items = major === 6 ? 1 : n === -1 ? -1 : major === 5 ? 2 * n : n
        if (items !== 0) {
          open.push(items)
          if (open.length > max) return true
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
    if (open.length === 0) return false
  }
  return false
}

/**
 * @ipld/dag-cbor's decode of `bytes` with nesting bounded by DECODE_DEPTH_MAX, without the canonical check:
 * for formats decoded leniently since their first build (an entry payload, a conf-change context) and for
 * whatever a node reads from a peer or its disk outside the canonical path (frames, WAL records, snapshots,
 * content messages, join strings). Every error it throws is a MalformedEncodingError: a stack overflow inside
 * the decoder can no longer happen, and whatever else the library throws is wrapped.
 * @throws MalformedEncodingError when the bytes nest deeper or are not DAG-CBOR
 */
export function decodeBounded<T = unknown> (bytes: Uint8Array): T {
  if (nestsDeeperThan(bytes, DECODE_DEPTH_MAX)) throw new MalformedEncodingError(`nesting deeper than ${DECODE_DEPTH_MAX} levels`)
  try {
    return decode(bytes) as T
  } catch (err) {
    throw new MalformedEncodingError(`cannot decode: ${(err as Error).message}`)
  }
}
