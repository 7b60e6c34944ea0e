/**
 * The fuzz harness itself: inputs are a pure function of (seed, run), a planted crash is found and
 * reproduced from its seed and run index, and a target's typed errors are not counted as crashes.
 */
import { describe, expect, it } from 'vitest'
import { fuzzTarget, makeInput, runInput } from './engine.js'
import { mutateBytes, MAX_INPUT_BYTES } from './mutate.js'
import { FuzzRng } from './rng.js'
import type { FuzzTarget } from './target.js'

class PlantedTypedError extends Error {
  constructor () { super('typed'); this.name = 'PlantedTypedError' }
}

/** Crashes on inputs whose first byte is 0x42 and rejects (typed) those starting with 0x41. */
const planted: FuzzTarget = {
  name: 'planted',
  description: 'a target with a planted bug',
  typedErrors: ['PlantedTypedError'],
  corpus: () => [Uint8Array.of(0x40, 1, 2, 3)],
  generate: (rng) => rng.bytes(1 + rng.int(4)),
  run (input) {
    if (input[0] === 0x41) throw new PlantedTypedError()
    if (input[0] === 0x42) throw new TypeError('planted crash')
  }
}

describe('fuzz engine', () => {
  it('should make the same input from the same seed and run, and different inputs across runs', () => {
    const corpus = planted.corpus(new FuzzRng(1))
    expect(makeInput(planted, corpus, 7, 123)).toEqual(makeInput(planted, corpus, 7, 123))
    const distinct = new Set(Array.from({ length: 200 }, (_, run) => Buffer.from(makeInput(planted, corpus, 7, run)).toString('hex')))
    expect(distinct.size).toBeGreaterThan(100)
  })

  it('should find a planted crash and reproduce it from its seed and run index', async () => {
    const report = await fuzzTarget(planted, { seed: 99, runs: 5000, maxFailures: 1 })
    expect(report.failures).toHaveLength(1)
    const failure = report.failures[0]!
    expect(failure.error.name).toBe('TypeError')
    expect(makeInput(planted, planted.corpus(new FuzzRng(99)), 99, failure.run)).toEqual(failure.input)
    expect(report.typedRejections).toBeGreaterThan(0)
  })

  it('should count a typed error as a rejection, not a crash', async () => {
    expect(await runInput(planted, Uint8Array.of(0x41))).toBe('typed')
    expect(await runInput(planted, Uint8Array.of(0x43))).toBe('ok')
    expect(await runInput(planted, Uint8Array.of(0x42))).toBeInstanceOf(TypeError)
  })

  it('should keep mutated inputs within the size bound', () => {
    const rng = new FuzzRng(5)
    let input: Uint8Array = new Uint8Array(MAX_INPUT_BYTES - 4)
    for (let i = 0; i < 200; i++) {
      input = mutateBytes(rng, input, [input])
      expect(input.length).toBeLessThanOrEqual(MAX_INPUT_BYTES)
    }
  })
})
