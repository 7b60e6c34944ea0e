/**
 * @module test/fuzz/targets/codec-parity
 * The canonical decoder on hostile bytes (docs/ENCODING.md, "Deterministic CBOR"): the one-pass reader
 * (`decodeCanonicalFast`) must agree with the general path (`decodeCanonicalGeneral`: @ipld/dag-cbor decode,
 * re-encode, compare) on every input — NOT_FAST wherever the general path rejects, the same value wherever
 * it answers — and `decodeCanonical` must give the general path's verdict and value. Inputs: wild values
 * encoded by @ipld/dag-cbor (extreme integers and BigInts, floats, long text and bytes, CIDs, a leading BOM,
 * `__proto__` keys), nested around the reader's depth (64) and the decoder's bound (512), and the same values
 * written out of canonical form (keys unsorted or repeated, heads one size wider, indefinite lengths, an
 * integer as a float, other tags); the byte mutator adds the rest.
 */
import { encode } from '@ipld/dag-cbor'
import {
  CID, DECODE_DEPTH_MAX, cidOfBytes, cidOfValue, decodeCanonical, decodeCanonicalFast, decodeCanonicalGeneral, encodeCanonical, equalBytes,
  nestsDeeperThan, NOT_FAST
} from '../../../src/codec/index.js'
import { FAST_DECODE_MAX_DEPTH } from '../../../src/codec/fast-decode.js'
import type { FuzzRng } from '../rng.js'
import { wildValue } from '../values.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'

const utf8 = new TextEncoder()

/** A value for the decoders: wild values, with CIDs, BOM text and awkward keys mixed in. */
function value (rng: FuzzRng, depth = 0): unknown {
  switch (rng.int(depth > 3 ? 5 : 8)) {
    case 0: return rng.chance(0.5) ? cidOfBytes(rng.bytes(rng.length(64))) : cidOfValue({ n: rng.int(1000) })
    case 1: return rng.pick(['\uFEFFbom', '\uFEFF', 'é', '日本語', 'a\u0000b', 'x'.repeat(31), 'x'.repeat(32)])
    case 2: case 3: return wildValue(rng, 2)
    case 4: return rng.pick([0, 1, 23, 24, 255, 256, 65_535, 65_536, -1, -24, -25, 2 ** 32, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2n ** 53n, -(2n ** 53n), -(2n ** 53n) - 1n, 1.5, -0, 'x', new Uint8Array(3), null, true])
    case 5: return Array.from({ length: rng.length(6) }, () => value(rng, depth + 1))
    default: {
      const out: Record<string, unknown> = {}
      for (let i = rng.length(6); i > 0; i--) {
        // Mostly plain keys of several lengths (so a bent order is one the reader must notice), now and then awkward ones.
        const key = rng.chance(0.85) ? rng.pick(['a', 'b', 'c', 'aa', 'ab', 'ba', 'kind', 'roles', `k${rng.int(20)}`]) : rng.pick(['é', '__proto__', 'constructor', '\uFEFFk', 'x'.repeat(40)])
        Object.defineProperty(out, key, {
          value: value(rng, depth + 1), enumerable: true, writable: true, configurable: true
        })
      }
      return out
    }
  }
}

function head (major: number, n: number, wider: boolean): number[] {
  const m = major << 5
  if (n < 24 && !wider) return [m | n]
  if (n < 0x100 && !(wider && n >= 24)) return [m | 24, n]
  if (n < 0x10000) return wider && n < 0x100 ? [m | 25, 0, n] : [m | 25, n >> 8, n & 0xff]
  return [m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
}

/**
 * Writes `v` as CBOR, bending nodes out of canonical form now and then: keys reversed or repeated, heads
 * wider, indefinite lengths, integers as floats, a tag other than 42. Leaves (strings, CIDs, BigInts…) are
 * @ipld/dag-cbor's bytes.
 */
function bent (rng: FuzzRng, v: unknown, out: number[]): void {
  const bend = rng.chance(0.25)
  if (typeof v === 'number' && Number.isSafeInteger(v) && bend) {
    const f = new DataView(new ArrayBuffer(8)); f.setFloat64(0, v)
    out.push(0xfb, ...new Uint8Array(f.buffer))
  } else if (Array.isArray(v)) {
    const indefinite = bend && rng.chance(0.5)
    out.push(...(indefinite ? [0x9f] : head(4, v.length, bend)))
    for (const item of v) bent(rng, item, out)
    if (indefinite) out.push(0xff)
  } else if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && CID.asCID(v) === null) {
    let keys = Object.keys(v).sort((a, b) => utf8.encode(a).length - utf8.encode(b).length || (a < b ? -1 : 1))
    if (bend && rng.chance(0.5)) keys = keys.reverse()
    if (bend && keys.length > 0 && rng.chance(0.5)) keys.push(keys[0]!)
    out.push(...head(5, keys.length, bend && rng.chance(0.3)))
    for (const key of keys) {
      out.push(...encode(key))
      bent(rng, (v as Record<string, unknown>)[key], out)
    }
  } else if (bend && rng.chance(0.3)) {
    out.push(0xd8, rng.pick([0, 1, 2, 41, 43, 255]))
    out.push(...safeEncode(v))
  } else {
    out.push(...safeEncode(v))
  }
}

function safeEncode (v: unknown): Uint8Array {
  try {
    return encode(v)
  } catch {
    return Uint8Array.of(0xf7) // undefined: dag-cbor refuses it on decode
  }
}

/** `inner` wrapped in `depth` one-element arrays or one-key maps. */
function nested (rng: FuzzRng, depth: number, inner: Uint8Array): Uint8Array {
  const wrap = rng.chance(0.5) ? [0x81] : [0xa1, 0x61, 0x61]
  const out = new Uint8Array(depth * wrap.length + inner.length)
  for (let i = 0; i < depth; i++) out.set(wrap, i * wrap.length)
  out.set(inner, depth * wrap.length)
  return out
}

/** Exact sameness of decoded values: prototypes, own keys in order, byte contents and class, CIDs. */
function same (a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (a instanceof Uint8Array) return b instanceof Uint8Array && equalBytes(a, b)
  if (CID.asCID(a) !== null) return CID.asCID(b) !== null && equalBytes(CID.asCID(a)!.bytes, CID.asCID(b)!.bytes)
  const ka = Reflect.ownKeys(a)
  const kb = Reflect.ownKeys(b)
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false
  return ka.every((k) => same((a as Record<PropertyKey, unknown>)[k], (b as Record<PropertyKey, unknown>)[k]))
}

type Verdict = { ok: true, value: unknown } | { ok: false, error: Error }
function verdict (f: () => unknown): Verdict {
  try {
    return { ok: true, value: f() }
  } catch (err) {
    return { ok: false, error: err as Error }
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').slice(0, 200)

export const codecParityTarget: FuzzTarget = {
  name: 'codec-parity',
  description: 'bytes → decodeCanonicalFast, decodeCanonicalGeneral and decodeCanonical: one verdict, one value, canonical bytes only',
  typedErrors: ['MalformedEncodingError', 'NonCanonicalEncodingError'],
  corpus: (rng) => [
    encode({ v: 1, kind: 'promote', nodeId: '12D3KooWabc', roles: ['etcd'], seq: 2 ** 40, at: -5 }),
    encode({ e: rng.bytes(40), s: rng.bytes(64) }),
    encode([cidOfBytes(rng.bytes(10)), 'é', null, true, false, [], {}]),
    encode({ a: 1.5, b: 2n ** 60n, c: -(2n ** 60n) })
  ],
  generate (rng) {
    const v = value(rng)
    const roll = rng.int(10)
    if (roll < 4) return safeEncode(v)
    const out: number[] = []
    bent(rng, v, out)
    const bytes = Uint8Array.from(out)
    if (roll < 8) return bytes
    // Around the reader's depth and the decoder's bound.
    const depth = rng.pick([FAST_DECODE_MAX_DEPTH - 1, FAST_DECODE_MAX_DEPTH, FAST_DECODE_MAX_DEPTH + 1, DECODE_DEPTH_MAX - 2, DECODE_DEPTH_MAX - 1, DECODE_DEPTH_MAX, DECODE_DEPTH_MAX + 1, 3000])
    return nested(rng, depth, rng.chance(0.5) ? bytes : safeEncode(v))
  },
  run (input) {
    const general = verdict(() => decodeCanonicalGeneral(input))
    const fast = decodeCanonicalFast(input)
    const full = verdict(() => decodeCanonical(input))
    if (!general.ok) {
      invariant(fast === NOT_FAST, () => `the reader accepted bytes the general path refuses (${general.error.name}): ${hex(input)}`)
      invariant(!full.ok && full.error.name === general.error.name, () => `decodeCanonical's verdict differs from the general path's on ${hex(input)}`)
      throw general.error
    }
    if (fast !== NOT_FAST) invariant(same(fast, general.value), () => `the reader and the general path give different values for ${hex(input)}`)
    invariant(full.ok && same(full.value, general.value), () => `decodeCanonical's value differs from the general path's on ${hex(input)}`)
    // One value, one encoding: what is accepted is the canonical encoding of its value, within the nesting bound.
    invariant(equalBytes(encodeCanonical(general.value), input), () => `accepted bytes that are not their value's encoding: ${hex(input)}`)
    invariant(!nestsDeeperThan(input, DECODE_DEPTH_MAX), () => `accepted bytes nested deeper than ${DECODE_DEPTH_MAX}`)
  }
}
