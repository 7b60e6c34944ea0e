/**
 * Goal: whether bytes decode never depends on the stack. @ipld/dag-cbor decodes by recursion and a value
 * nested too deep ends in a stack overflow, caught as MalformedEncodingError; where that happens depends on
 * how much stack the caller used and on the JIT (measured here: 3,767 levels cold, 9,712 once warm). So one
 * entry decoded on one replica and failed on another, or on the same node after a restart: a batch envelope's
 * committed rejection message (part of its chain block) or an entry payload's command then differed. Values
 * nested deeper than DECODE_DEPTH_MAX are refused before decoding, by an iterative scan (docs/ENCODING.md).
 */
import { describe, expect, it } from 'vitest'
import { DECODE_DEPTH_MAX, decodeCanonical, nestsDeeperThan } from '../../src/codec/index.js'
import { decodeContext, decodeEntryPayload } from '../../src/consensus/entry-payload.js'
import { concat, nestedArrays, withLittleStack } from './deep-values.js'

const verdict = (fn: () => unknown): string => {
  try {
    const value = fn()
    return value === null ? 'null' : 'value'
  } catch (err) {
    return (err as Error).name
  }
}

describe('nesting depth', () => {
  it('should give one verdict on a deeply nested value with a full stack and with little of it left', () => {
    const bytes = nestedArrays(3_000)
    const shallow = verdict(() => decodeCanonical(bytes))
    const deep = withLittleStack(() => verdict(() => decodeCanonical(bytes)))
    expect(deep).toBe(shallow)
    expect(shallow).toBe('MalformedEncodingError')
  })

  it('should give one verdict on an entry payload and a conf-change context carrying a deep value, whatever the stack', () => {
    // {c: h'', t: 1, x: [[[…]]]}: an entry payload with one more key, as only a leader writes them.
    const payload = concat(Uint8Array.from([0xa3, 0x61, 0x63, 0x40, 0x61, 0x74, 0x01, 0x61, 0x78]), nestedArrays(3_000))
    expect(verdict(() => decodeEntryPayload(payload))).toBe(withLittleStack(() => verdict(() => decodeEntryPayload(payload))))
    expect(verdict(() => decodeEntryPayload(payload))).toBe('null')
    // {i: "a/b", p: h'…', s: 1, x: [[[…]]]} with a valid payload inside.
    const inner = Uint8Array.from([0xa2, 0x61, 0x63, 0x40, 0x61, 0x74, 0x01])
    const context = concat(Uint8Array.from([0xa4, 0x61, 0x69, 0x63, 0x61, 0x2f, 0x62, 0x61, 0x70, 0x40 + inner.length]), inner,
      Uint8Array.from([0x61, 0x73, 0x01, 0x61, 0x78]), nestedArrays(3_000))
    expect(verdict(() => decodeContext(context))).toBe(withLittleStack(() => verdict(() => decodeContext(context))))
    expect(verdict(() => decodeContext(context))).toBe('null')
  })

  it('should decode a value nested DECODE_DEPTH_MAX deep and refuse one level more', () => {
    expect(decodeCanonical(nestedArrays(DECODE_DEPTH_MAX))).toBeInstanceOf(Array)
    expect(() => decodeCanonical(nestedArrays(DECODE_DEPTH_MAX + 1))).toThrow(expect.objectContaining({ name: 'MalformedEncodingError' }))
    // Maps and tags count as levels too; indefinite lengths as well (dag-cbor refuses those anyway).
    const levels = DECODE_DEPTH_MAX + 1
    const maps = new Uint8Array(levels * 3 + 1)
    for (let i = 0; i < levels; i++) maps.set([0xa1, 0x61, 0x61], i * 3)
    maps[levels * 3] = 0xf6
    expect(() => decodeCanonical(maps)).toThrow(expect.objectContaining({ name: 'MalformedEncodingError', message: expect.stringMatching(/nest/) }))
  })

  it('should count open containers along one path, not siblings, and answer false on truncated bytes', () => {
    const b = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes)
    // [[[null]], [null]]: three levels, then back to two.
    const path = b(0x82, 0x81, 0x81, 0xf6, 0x81, 0xf6)
    expect(nestsDeeperThan(path, 2)).toBe(true)
    expect(nestsDeeperThan(path, 3)).toBe(false)
    // 300 siblings [null] under one array: two levels.
    const siblings = concat(b(0x99, 0x01, 0x2c), ...Array.from({ length: 300 }, () => b(0x81, 0xf6)))
    expect(nestsDeeperThan(siblings, 1)).toBe(true)
    expect(nestsDeeperThan(siblings, 2)).toBe(false)
    // {"a": h'8181818181', "b": tag 42 [[null]]}: bytes are skipped, a tag is a level.
    const mixed = b(0xa2, 0x61, 0x61, 0x45, 0x81, 0x81, 0x81, 0x81, 0x81, 0x61, 0x62, 0xd8, 0x2a, 0x81, 0x81, 0xf6)
    expect(nestsDeeperThan(mixed, 3)).toBe(true)
    expect(nestsDeeperThan(mixed, 4)).toBe(false)
    // Indefinite arrays: [_ [_ null] ] two levels.
    const indefinite = b(0x9f, 0x9f, 0xf6, 0xff, 0xff)
    expect(nestsDeeperThan(indefinite, 1)).toBe(true)
    expect(nestsDeeperThan(indefinite, 2)).toBe(false)
    // A length beyond the bytes, a reserved head: false, for the decoder to refuse.
    expect(nestsDeeperThan(b(0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81), 0)).toBe(true)
    expect(nestsDeeperThan(b(0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81), 0)).toBe(false)
    expect(nestsDeeperThan(b(0x1c, 0x81, 0x81), 0)).toBe(false)
  })
})
