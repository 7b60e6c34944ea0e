/**
 * @module test/fuzz/mutate
 * Byte-level mutation in the AFL/libFuzzer manner, with CBOR-aware dictionary values: bit flips,
 * interesting bytes, inserted/deleted/duplicated ranges, truncation, splices with another corpus input,
 * and overwrites with CBOR heads that announce extreme lengths or numbers (u64 lengths, NaN, ±Infinity,
 * indefinite-length items, tags). Every mutation is bounded by MAX_INPUT_BYTES.
 */
import type { FuzzRng } from './rng.js'

/** Inputs never grow past this (keeps each run cheap; decoders' own limits are far above). */
export const MAX_INPUT_BYTES = 64 * 1024

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x20, 0x3b, 0x40, 0x5f,
  0x60, 0x7b, 0x9f, 0xa0, 0xbf, 0xc0, 0xd8, 0xf4, 0xf5, 0xf6, 0xf7, 0xf9, 0xfa, 0xfb, 0xff]

/** CBOR fragments worth splicing in: huge lengths and numbers, NaN/Infinity floats, tags, breaks. */
const CBOR_TOKENS: Uint8Array[] = [
  [0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // u64 max
  [0x1b, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // 2^53
  [0x1b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // 2^53 - 1
  [0x1b, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01], // 2^48 + 1
  [0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // -2^64
  [0x1a, 0xff, 0xff, 0xff, 0xff], // u32 max
  [0xfb, 0x7f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // NaN
  [0xfb, 0x7f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // +Infinity
  [0xfb, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // -0
  [0xf9, 0x3c, 0x00], // half-float 1.0
  [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // bytes of u64-max length
  [0x9b, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff], // array of 2^32-1 items
  [0xbb, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff], // map of 2^32-1 pairs
  [0x9f, 0x01, 0x02, 0xff], // indefinite array
  [0xd8, 0x2a, 0x40], // tag 42 (CID) on empty bytes
  [0xf7], [0xf6], [0xf5], [0xff]
].map((bytes) => Uint8Array.from(bytes))

function insert (input: Uint8Array, at: number, piece: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length + piece.length)
  out.set(input.subarray(0, at))
  out.set(piece, at)
  out.set(input.subarray(at), at + piece.length)
  return out
}

function overwrite (input: Uint8Array, at: number, piece: Uint8Array): Uint8Array {
  const out = Uint8Array.from(input)
  out.set(piece.subarray(0, Math.max(0, out.length - at)), at)
  return out
}

/** One mutation of `input`; `others` are corpus inputs to splice with. */
function mutateOnce (rng: FuzzRng, input: Uint8Array, others: readonly Uint8Array[]): Uint8Array {
  const at = rng.int(input.length + 1)
  switch (rng.int(10)) {
    case 0: { // flip one bit
      if (input.length === 0) return rng.bytes(1)
      const out = Uint8Array.from(input)
      const i = rng.int(out.length)
      out[i] = (out[i] as number) ^ (1 << rng.int(8))
      return out
    }
    case 1: { // an interesting byte
      if (input.length === 0) return Uint8Array.of(rng.pick(INTERESTING_BYTES))
      const out = Uint8Array.from(input)
      out[rng.int(out.length)] = rng.pick(INTERESTING_BYTES)
      return out
    }
    case 2: return insert(input, at, rng.bytes(1 + rng.int(8)))
    case 3: { // delete a range
      const length = 1 + rng.int(Math.max(1, Math.min(64, input.length - at)))
      return Uint8Array.from([...input.subarray(0, at), ...input.subarray(at + length)])
    }
    case 4: { // duplicate a range
      const length = 1 + rng.int(Math.max(1, Math.min(256, input.length - at)))
      return insert(input, at, input.slice(at, at + length))
    }
    case 5: return input.slice(0, rng.int(input.length + 1)) // truncate
    case 6: return insert(input, at, rng.pick(CBOR_TOKENS))
    case 7: return overwrite(input, Math.min(at, Math.max(0, input.length - 1)), rng.pick(CBOR_TOKENS))
    case 8: { // splice with another input
      const other = others.length > 0 ? rng.pick(others) : rng.bytes(8)
      const from = rng.int(other.length + 1)
      return Uint8Array.from([...input.subarray(0, at), ...other.subarray(from)])
    }
    default: { // a random byte somewhere
      if (input.length === 0) return rng.bytes(1)
      const out = Uint8Array.from(input)
      out[rng.int(out.length)] = rng.next() & 0xff
      return out
    }
  }
}

/** Applies 1–4 mutations (rarely up to 16) and caps the length. */
export function mutateBytes (rng: FuzzRng, input: Uint8Array, others: readonly Uint8Array[] = []): Uint8Array {
  const rounds = rng.chance(0.1) ? 1 + rng.int(16) : 1 + rng.int(4)
  let out = input
  for (let i = 0; i < rounds; i++) out = mutateOnce(rng, out, others)
  return out.length > MAX_INPUT_BYTES ? out.subarray(0, MAX_INPUT_BYTES) : out
}
