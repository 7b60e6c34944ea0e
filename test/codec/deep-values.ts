/**
 * Helpers for tests of decoders fed deeply nested values: the bytes, and a way to decode them with little
 * stack left, where a recursive decoder overflows sooner (test/codec/nesting.test.ts says why that matters).
 */

/** `depth` arrays of one element inside one another around a null: `[[[…null…]]]`. */
export const nestedArrays = (depth: number): Uint8Array => { const b = new Uint8Array(depth + 1).fill(0x81); b[depth] = 0xf6; return b }

export const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]))

/**
 * The CBOR map `map` (at most 22 entries, one-byte head) with one more one-letter key (`x` unless given)
 * holding `value`, appended last: valid DAG-CBOR for a lenient decoder, not canonical (the one-pass reader
 * hands it on).
 */
export function withExtraKey (map: Uint8Array, value: Uint8Array, key = 'x'): Uint8Array {
  const head = map[0]!
  if (head < 0xa0 || head >= 0xb7) throw new Error(`not a map with a one-byte head: ${head.toString(16)}`)
  if (key.length !== 1) throw new Error('a one-letter key')
  return concat(Uint8Array.of(head + 1), map.subarray(1), Uint8Array.of(0x61, key.charCodeAt(0)), value)
}

function recurse (n: number, fn: () => unknown): unknown {
  return n === 0 ? fn() : recurse(n - 1, fn)
}

/** Runs `fn` with little stack left: a tenth of the frames `recurse` can take here (frames change size with the JIT). */
export function withLittleStack<T> (fn: () => T): T {
  let lo = 0
  let hi = 1_000_000
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    try { recurse(mid, () => 0); lo = mid } catch { hi = mid }
  }
  return recurse(lo - Math.ceil(lo / 10), fn) as T
}

/** 'null', 'value', or the name and message of what `fn` threw. */
export function verdict (fn: () => unknown): string {
  try {
    const value = fn()
    return value === null ? 'null' : 'value'
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`
  }
}
