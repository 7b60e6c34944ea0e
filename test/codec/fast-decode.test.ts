/**
 * The one-pass reader (decodeCanonicalFast) must agree with the general path (decodeCanonicalGeneral:
 * @ipld/dag-cbor decode, re-encode, compare) on every input: the same value where it answers, NOT_FAST
 * wherever the general path rejects, and an answer (not a fallback) on every canonical value of its domain.
 * Inputs: random values encoded by @ipld/dag-cbor, and the same values written by a test writer that bends
 * one node of them out of canonical form (unsorted or duplicate keys, wider heads, indefinite lengths, an
 * integer as a float, undefined, a trailing byte). Seeded; fast-check prints seed and counterexample.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { encode } from '@ipld/dag-cbor'
import * as Digest from 'multiformats/hashes/digest'
import {
  CID, cidOfBytes, cidOfValue, decodeCanonical, decodeCanonicalFast, decodeCanonicalGeneral, encodeCanonical, NOT_FAST,
  overBounds
} from '../../src/codec/index.js'

const SEED = Number(process.env.FAST_DECODE_SEED ?? 161616)

// ---------------------------------------------------------------------------------------------- values

const cidArb = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((b) => cidOfBytes(b)),
  fc.string({ maxLength: 10 }).map((s) => cidOfValue({ s })),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((d) => CID.createV0(Digest.create(0x12, d)))
)
const nearSafe = fc.integer({ min: -20, max: 0 }).map((d) => Number.MAX_SAFE_INTEGER + d)
const intArb = fc.oneof(
  fc.integer({ min: -30, max: 30 }),
  fc.constantFrom(23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, -24, -25, -256, -257, -65_537, -(2 ** 32) - 1),
  fc.integer(), fc.maxSafeInteger(), nearSafe, nearSafe.map((n) => -n)
)
const bigArb = fc.constantFrom(2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n, -(2n ** 53n), -(2n ** 53n) - 1n, -(2n ** 64n))
const textArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 40, unit: 'grapheme' }),
  fc.string({ minLength: 30, maxLength: 80, unit: 'grapheme-ascii' }),
  fc.string({ maxLength: 8, unit: 'grapheme' }).map((s) => `\uFEFF${s}`),
  fc.constantFrom('', 'é', '日本語', '🦜 revoada', 'a\u0000b', 'x'.repeat(31), 'x'.repeat(32), 'é'.repeat(40))
)
const keyArb = fc.oneof(
  fc.string({ maxLength: 12 }), fc.string({ maxLength: 6, unit: 'grapheme' }),
  fc.constantFrom('v', 'kind', 'prev', 'sig', 'seq', 'labels', 'é', 'aa', 'b', 'ab', 'ba', '__proto__', 'constructor', '1', '10'),
  fc.string({ minLength: 2, maxLength: 2 }) // same-length keys: the bytewise order decides
)
const floatArb = fc.double({ noNaN: true, noDefaultInfinity: true, noInteger: true })
const leafArb = fc.oneof(
  { arbitrary: fc.constantFrom(null, true, false), weight: 2 },
  { arbitrary: intArb, weight: 4 },
  { arbitrary: textArb, weight: 4 },
  { arbitrary: fc.uint8Array({ maxLength: 300 }), weight: 2 },
  { arbitrary: cidArb, weight: 1 },
  { arbitrary: bigArb, weight: 1 },
  { arbitrary: floatArb, weight: 1 }
)
const valueArb = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    leafArb, fc.array(tie('node'), { maxLength: 5 }), fc.dictionary(keyArb, tie('node'), { maxKeys: 7 }))
})).node

/** True when the reader must answer for `v` itself (no fallback): nothing it leaves to the general path. */
function inFastDomain (v: unknown): boolean {
  if (v === null || typeof v === 'boolean') return true
  if (typeof v === 'number') return Number.isSafeInteger(v)
  if (typeof v === 'string') return !v.startsWith('\uFEFF')
  if (v instanceof Uint8Array) return true
  if (CID.asCID(v) !== null) return true
  if (Array.isArray(v)) return v.every(inFastDomain)
  if (typeof v === 'object') return Object.entries(v).every(([k, x]) => k !== '__proto__' && !k.startsWith('\uFEFF') && inFastDomain(x))
  return false // bigint, float
}

/** Data items of `v` once encoded, counted on the value (a naive reference): every head; a CID is a tag and its bytes. */
function itemsIn (v: unknown): number {
  if (CID.asCID(v) !== null) return 2
  if (Array.isArray(v)) return 1 + v.reduce((n: number, x) => n + itemsIn(x), 0)
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return 1 + Object.values(v).reduce((n: number, x) => n + 1 + itemsIn(x), 0)
  }
  return 1
}

// ---------------------------------------------------------------------- a writer that bends one node

type Bend = 'none' | 'unsorted' | 'duplicate' | 'wide-head' | 'indefinite' | 'int-as-float' | 'undefined' | 'trailing'
const BENDS: Bend[] = ['unsorted', 'duplicate', 'wide-head', 'indefinite', 'int-as-float', 'undefined', 'trailing']

const utf8 = new TextEncoder()
const compareKeys = (a: Uint8Array, b: Uint8Array): number => {
  if (a.length !== b.length) return a.length - b.length
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

/** Writes `value` as dag-cbor does, except at the first node from number `at` on (pre-order) where `bend` fits. */
class BendingWriter {
  out: number[] = []
  node = 0
  applied = false
  constructor (readonly bend: Bend, readonly at: number) {}

  private here (): boolean {
    const hit = this.node >= this.at && !this.applied // the first node from `at` on where the bend fits
    this.node++
    return hit
  }

  head (major: number, n: number | bigint, wide = false): void {
    const v = BigInt(n)
    const m = major << 5
    // Argument bytes by form: 0 (in the initial byte), 1, 2, 4, 8; additional info 24 + form - 1.
    const WIDTHS = [0, 1, 2, 4, 8]
    let form = v < 24n ? 0 : v < 0x100n ? 1 : v < 0x10000n ? 2 : v < 0x100000000n ? 3 : 4
    if (wide && form < 4) { form++; this.applied = true } // an 8-byte head has no wider form
    if (form === 0) { this.out.push(m | Number(v)); return }
    this.out.push(m | (23 + form))
    for (let i = WIDTHS[form]! - 1; i >= 0; i--) this.out.push(Number((v >> BigInt(8 * i)) & 0xffn))
  }

  write (value: unknown): void {
    const hit = this.here()
    const bend = hit ? this.bend : 'none'
    if (typeof value === 'number' && Number.isSafeInteger(value)) {
      if (bend === 'int-as-float') {
        this.applied = true
        this.out.push(0xfb)
        const b = new Uint8Array(8)
        new DataView(b.buffer).setFloat64(0, value)
        this.out.push(...b)
        return
      }
      if (value >= 0) this.head(0, value, bend === 'wide-head')
      else this.head(1, -1 - value, bend === 'wide-head')
    } else if (typeof value === 'bigint') {
      if (value >= 0n) this.head(0, value, bend === 'wide-head')
      else this.head(1, -1n - value, bend === 'wide-head')
    } else if (typeof value === 'number') {
      this.out.push(0xfb)
      const b = new Uint8Array(8)
      new DataView(b.buffer).setFloat64(0, value)
      this.out.push(...b)
    } else if (typeof value === 'string') {
      this.string(3, utf8.encode(value), bend)
    } else if (value instanceof Uint8Array) {
      this.string(2, value, bend)
    } else if (value === null) {
      if (bend === 'undefined') { this.applied = true; this.out.push(0xf7) } else this.out.push(0xf6)
    } else if (typeof value === 'boolean') {
      this.out.push(value ? 0xf5 : 0xf4)
    } else if (CID.asCID(value) !== null) {
      const cid = CID.asCID(value)!
      this.out.push(0xd8, 42)
      this.string(2, Uint8Array.from([0, ...cid.bytes]), 'none')
    } else if (Array.isArray(value)) {
      if (bend === 'indefinite') {
        this.applied = true
        this.out.push(0x9f)
        for (const item of value) this.write(item)
        this.out.push(0xff)
        return
      }
      this.head(4, value.length, bend === 'wide-head')
      for (const item of value) this.write(item)
    } else {
      let entries = Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => [utf8.encode(k), v] as const).sort((a, b) => compareKeys(a[0], b[0]))
      if (bend === 'unsorted' && entries.length >= 2) {
        // Swap two neighbours, of equal length when there are such (the bytewise rule), else the first two.
        const same = entries.findIndex((e, i) => i > 0 && e[0].length === entries[i - 1]![0].length)
        const i = same > 0 ? same : 1
        this.applied = true
        entries = [...entries.slice(0, i - 1), entries[i]!, entries[i - 1]!, ...entries.slice(i + 1)]
      }
      if (bend === 'duplicate' && entries.length >= 1) { this.applied = true; entries = [entries[0]!, ...entries] }
      if (bend === 'indefinite') { this.applied = true; this.out.push(0xbf) } else this.head(5, entries.length, bend === 'wide-head')
      for (const [k, v] of entries) { this.string(3, k, 'none'); this.write(v) }
      if (bend === 'indefinite') this.out.push(0xff)
    }
  }

  private string (major: number, bytes: Uint8Array, bend: Bend): void {
    if (bend === 'indefinite') {
      this.applied = true
      this.out.push((major << 5) | 31)
      this.head(major, bytes.length)
      this.out.push(...bytes)
      this.out.push(0xff)
      return
    }
    this.head(major, bytes.length, bend === 'wide-head')
    this.out.push(...bytes)
  }
}

function bent (value: unknown, bend: Bend, at: number): { bytes: Uint8Array, applied: boolean } {
  const w = new BendingWriter(bend, at)
  w.write(value)
  if (bend === 'trailing') { w.out.push(0); w.applied = true }
  return { bytes: Uint8Array.from(w.out), applied: w.applied }
}

// --------------------------------------------------------------------------------------------- judging

/**
 * Exact sameness of decoded values: prototypes, own keys in insertion order, byte contents and their class.
 * (toStrictEqual compares `.constructor`, which a decoded `constructor` key shadows.)
 */
function same (a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (a instanceof Uint8Array) return b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b))
  if (CID.asCID(a) !== null) return CID.asCID(a)!.equals(CID.asCID(b)) && same(CID.asCID(a)!.bytes, CID.asCID(b)!.bytes)
  const ka = Reflect.ownKeys(a)
  const kb = Reflect.ownKeys(b)
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false
  return ka.every((k) => same((a as Record<PropertyKey, unknown>)[k], (b as Record<PropertyKey, unknown>)[k]))
}

type Outcome = { ok: true, value: unknown } | { ok: false, error: string }
function outcome (f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() }
  } catch (err) {
    return { ok: false, error: (err as Error).name }
  }
}

/** The reader agrees with the general path on `bytes`; returns whether the general path accepted them. */
function agree (bytes: Uint8Array): boolean {
  const general = outcome(() => decodeCanonicalGeneral(bytes))
  const fast = decodeCanonicalFast(bytes)
  if (!general.ok) {
    expect(fast, `the reader accepted bytes the general path rejects (${general.error}): ${Buffer.from(bytes).toString('hex')}`).toBe(NOT_FAST)
  } else if (fast !== NOT_FAST) {
    expect(same(fast, general.value), `values differ: ${Buffer.from(bytes).toString('hex')}`).toBe(true)
  }
  const whole = outcome(() => decodeCanonical(bytes))
  expect(whole.ok).toBe(general.ok)
  if (whole.ok && general.ok) expect(same(whole.value, general.value)).toBe(true)
  if (!whole.ok && !general.ok) expect(whole.error).toBe(general.error)
  return general.ok
}

describe('decodeCanonicalFast', () => {
  it('should give the general path\'s value for every canonical encoding, and answer itself inside its domain', () => {
    let answered = 0
    fc.assert(fc.property(valueArb, (v) => {
      const bytes = encode(v)
      agree(bytes)
      if (inFastDomain(v)) {
        const fast = decodeCanonicalFast(bytes)
        expect(fast, `fell back on a value of its domain: ${Buffer.from(bytes).toString('hex')}`).not.toBe(NOT_FAST)
        answered++
      }
      // The test writer writes dag-cbor's bytes when it bends nothing (the bent inputs below mean what they say).
      expect(Buffer.from(bent(v, 'none', -1).bytes).toString('hex')).toBe(Buffer.from(bytes).toString('hex'))
    }), { seed: SEED, numRuns: 3000 })
    expect(answered).toBeGreaterThan(1000)
  })

  it('should fall back on every non-canonical input the general path rejects, whatever rule it breaks', () => {
    const rejected = new Map<Bend, number>(BENDS.map((b) => [b, 0]))
    const sized = fc.tuple(valueArb, fc.constantFrom(...BENDS), fc.nat({ max: 8 }))
    fc.assert(fc.property(sized, ([v, bend, at]) => {
      const { bytes, applied } = bent(v, bend, at)
      const accepted = agree(bytes)
      if (applied && !accepted) rejected.set(bend, rejected.get(bend)! + 1)
      // Bent bytes are never the canonical encoding; the general path must see that (else the bend is moot).
      if (applied) expect(accepted, `${bend} at ${at} accepted: ${Buffer.from(bytes).toString('hex')}`).toBe(false)
    }), { seed: SEED, numRuns: 6000 })
    for (const [bend, n] of rejected) expect(n, `${bend} inputs rejected`).toBeGreaterThan(50)
  })

  it('should decide these by hand-picked bytes as the general path does', () => {
    const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/ /g, ''), 'hex'))
    const canonical = [
      'a2 61 61 01 61 62 02', // {a:1, b:2}
      'a2 61 62 01 62 61 61 02', // {b:1, aa:2}: shorter key first
      '1b 00 1f ff ff ff ff ff ff', // 2^53 - 1
      '3b 00 1f ff ff ff ff ff fe', // -(2^53 - 1)
      '1a 00 01 00 00', '19 01 00', '18 18', '17', '38 18', '20',
      '63 e6 97 a5', // '日'
      '80', 'a0', '40', '60', 'f4', 'f5', 'f6'
    ]
    for (const h of canonical) {
      expect(agree(hex(h)), h).toBe(true)
      expect(decodeCanonicalFast(hex(h)), h).not.toBe(NOT_FAST)
    }
    const rejected = [
      'a2 61 62 02 61 61 01', // unsorted
      'a2 62 61 61 02 61 62 01', // longer key first
      'a2 61 61 01 61 61 02', // duplicate
      '18 05', '19 00 ff', '1a 00 00 ff ff', '1b 00 00 00 00 ff ff ff ff', '38 05', '58 01 00', '78 01 61', '98 01 01', 'b8 01 61 61 01',
      '9f 01 ff', 'bf 61 61 01 ff', '5f 41 00 ff', '7f 61 61 ff', // indefinite
      '01 00', // trailing byte
      '', '82 01', '62 61', 'ff', 'f7', 'f0', 'f9 3c 00', 'fb 3f f0 00 00 00 00 00 00',
      '63 ef bb bf', // a lone BOM: dag-cbor's TextDecoder drops it
      '62 c3 28', // invalid UTF-8
      'a1 01 01', // integer key
      'c1 01', // tag 1
      'd8 2a 41 00', // tag 42 without a CID
      `d8 2a 58 26 00 81 00 71 1e 20 ${'00'.repeat(32)}`, // a CID whose version varint is not in shortest form
      `d8 2a 58 26 01 01 71 1e 20 ${'00'.repeat(32)}`, // no 0x00 prefix
      `d8 2a 58 26 00 01 71 1e 20 ${'00'.repeat(33)}`.replace('58 26', '58 27') // a byte after the CID
    ]
    for (const h of rejected) {
      expect(agree(hex(h)), h).toBe(false)
      expect(decodeCanonicalFast(hex(h)), h).toBe(NOT_FAST)
    }
    // Outside its domain but accepted by the general path: the general path answers.
    for (const v of [2n ** 53n, -(2n ** 53n) - 1n, 1.5, { __proto__x: 1 }, { ['__proto__']: 1 }]) expect(agree(encode(v))).toBe(true)
    expect(decodeCanonicalFast(encode(2n ** 53n))).toBe(NOT_FAST)
  })

  it('should decode CIDs (tag 42) to CIDs equal to the general path\'s, and Buffers to plain Uint8Array copies', () => {
    const v = { link: cidOfValue({ a: 1 }), blob: new Uint8Array([1, 2, 3]), v0: CID.createV0(Digest.create(0x12, new Uint8Array(32).fill(7))) }
    const bytes = Buffer.from(encodeCanonical(v))
    const fast = decodeCanonicalFast(bytes) as typeof v
    expect(same(fast, decodeCanonicalGeneral(bytes))).toBe(true)
    expect(CID.asCID(fast.link)?.equals(v.link)).toBe(true)
    expect(fast.blob.constructor).toBe(Uint8Array)
    fast.blob[0] = 9
    expect(bytes.includes(9)).toBe(false) // a copy, not a view into the message
  })

  it('should answer with at most itemsMax data items and give up on one more, counted as the nesting scan counts', () => {
    let answered = 0
    fc.assert(fc.property(valueArb, (v) => {
      if (!inFastDomain(v)) return
      const bytes = encode(v)
      const items = itemsIn(v)
      // The scan behind decodeBounded(bytes, itemsMax) draws the line at the same item.
      expect(overBounds(bytes, Number.MAX_SAFE_INTEGER, items)).toBe(null)
      expect(overBounds(bytes, Number.MAX_SAFE_INTEGER, items - 1)).toBe('items')
      expect(decodeCanonicalFast(bytes, items)).not.toBe(NOT_FAST)
      expect(decodeCanonicalFast(bytes, items - 1)).toBe(NOT_FAST)
      answered++
    }), { seed: SEED, numRuns: 2000 })
    expect(answered).toBeGreaterThan(500)
  })

  it('should leave deep nesting to the general path rather than overflow', () => {
    const deep = new Uint8Array(100_000).fill(0x81)
    const bytes = Uint8Array.from([...deep, 0x01])
    expect(decodeCanonicalFast(bytes)).toBe(NOT_FAST)
    expect(same(decodeCanonicalFast(encode([[[[[[1]]]]]])), [[[[[[1]]]]]])).toBe(true)
  })
})
