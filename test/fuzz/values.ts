/**
 * @module test/fuzz/values
 * Structure-aware inputs: take a valid value (a frame, a heartbeat, an envelope…), replace one field
 * somewhere inside it with an extreme or wrong-typed value, drop a field or add an unknown one, and
 * encode it as CBOR. Extreme values are the ones decoders get wrong: 2^48 ± 1, 2^53 ± 1, u64 max as a
 * BigInt, negative numbers, -0, floats where integers belong, huge strings, deep nesting.
 */
import { encode } from '@ipld/dag-cbor'
import type { FuzzRng } from './rng.js'

const EXTREME_NUMBERS: unknown[] = [
  0, 1, -1, 2, 255, 256, 65_535, 65_536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 48 - 1, 2 ** 48, 2 ** 48 + 1,
  Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0.5, 1.5, -0.5, 1e308, -1e308,
  Number.MIN_VALUE, 2n ** 53n, 2n ** 64n - 1n, -(2n ** 64n), -(2n ** 53n) - 1n
]

/** A value of any CBOR kind, biased towards the extremes. */
export function wildValue (rng: FuzzRng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 7 : 10)) {
    case 0: case 1: return rng.pick(EXTREME_NUMBERS)
    case 2: return rng.next() - 0x8000_0000
    case 3: return rng.pick(['', 'a', 'b', 'x'.repeat(129), 'é'.repeat(300), '\u0000', 'revoada', '/ip4/127.0.0.1/tcp/1', 'z'.repeat(1 + rng.length(5000))])
    case 4: return rng.bytes(rng.length(4096))
    case 5: return rng.pick([null, true, false])
    case 6: return rng.pick([[], {}, [0], { a: 1 }])
    case 7: return Array.from({ length: rng.length(40) }, () => wildValue(rng, depth + 1))
    case 8: return Object.fromEntries(Array.from({ length: rng.length(10) }, (_, i) => [rng.pick(['a', 'v', 't', 'x', `k${i}`]), wildValue(rng, depth + 1)]))
    default: return Array.from({ length: 1 + rng.int(3) }, () => [wildValue(rng, depth + 1)])
  }
}

function isContainer (v: unknown): v is Record<string, unknown> | unknown[] {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array)
}

function clone (v: unknown): unknown {
  if (v instanceof Uint8Array) return v
  if (Array.isArray(v)) return v.map(clone)
  if (isContainer(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]))
  return v
}

/** Every container inside `root` (root included), to pick one to damage. */
function containers (root: unknown, out: Array<Record<string, unknown> | unknown[]> = []): Array<Record<string, unknown> | unknown[]> {
  if (!isContainer(root)) return out
  out.push(root)
  for (const child of Object.values(root)) containers(child, out)
  return out
}

/** A copy of `value` with 1–3 damaged spots (a field replaced, dropped, added; an array grown or emptied). */
export function damageValue (rng: FuzzRng, value: unknown): unknown {
  const root = { root: clone(value) } as Record<string, unknown>
  const rounds = 1 + rng.int(3)
  for (let i = 0; i < rounds; i++) {
    const target = rng.pick(containers(root))
    const keys = Object.keys(target)
    const key = keys.length > 0 ? rng.pick(keys) : '0'
    const roll = rng.int(10)
    if (Array.isArray(target)) {
      const index = Number(key)
      if (roll < 6) target[index] = wildValue(rng)
      else if (roll < 7) target.splice(index, 1)
      else if (roll < 8) target.length = 0
      else if (roll < 9 && target.length > 0) for (let j = rng.int(200); j > 0; j--) target.push(clone(target[0]))
      else target.push(wildValue(rng))
    } else {
      if (roll < 6) target[key] = wildValue(rng)
      else if (roll < 8) delete target[key]
      else {
        // defineProperty: a plain assignment to __proto__ would change the prototype, not add a key.
        Object.defineProperty(target, rng.pick(['zz', 'extra', '__proto__', 'constructor', 'x']), {
          value: wildValue(rng), enumerable: true, writable: true, configurable: true
        })
      }
    }
  }
  return root.root
}

/** CBOR of `value`; values dag-cbor refuses (undefined…) fall back to a wild value's encoding. */
export function encodeValue (rng: FuzzRng, value: unknown): Uint8Array {
  try {
    return encode(value)
  } catch {
    return encode(rng.pick([0, 'x', null, []]))
  }
}
