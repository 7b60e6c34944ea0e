/**
 * Goal: the linearizability checker must accept every linearizable history and reject the classic
 * violations (stale read, lost write, reads going back in time), including with pending operations.
 * Method: hand-made histories whose verdict is known, plus a generated family of sequential histories
 * (always linearizable) with one corrupted read (never linearizable) to catch a checker that says "ok".
 */
import { describe, expect, it } from 'vitest'
import { checkHistory, type KvInput, type Operation } from './linearizability.js'

function put (clientId: string, key: string, value: string, call: number, ret?: number): Operation {
  const input: KvInput = { kind: 'put', key, value }
  return ret === undefined ? { clientId, input, call } : { clientId, input, output: {}, call, return: ret }
}

function get (clientId: string, key: string, value: string | null, call: number, ret: number): Operation {
  return { clientId, input: { kind: 'get', key }, output: { value }, call, return: ret }
}

describe('checkHistory', () => {
  it('should accept when operations are sequential and reads see the last write', () => {
    const history = [put('a', 'x', '1', 0, 1), get('b', 'x', '1', 2, 3), put('a', 'x', '2', 4, 5), get('b', 'x', '2', 6, 7)]
    expect(checkHistory(history).verdict).toBe('ok')
  })

  it('should accept when a read concurrent with a write sees either value', () => {
    const before = [put('a', 'x', '1', 0, 1), put('a', 'x', '2', 2, 10), get('b', 'x', '1', 3, 4)]
    const after = [put('a', 'x', '1', 0, 1), put('a', 'x', '2', 2, 10), get('b', 'x', '2', 3, 4)]
    expect(checkHistory(before).verdict).toBe('ok')
    expect(checkHistory(after).verdict).toBe('ok')
  })

  it('should reject a stale read when a read starting after a write returned sees the older value', () => {
    const history = [put('a', 'x', '1', 0, 1), put('a', 'x', '2', 2, 3), get('b', 'x', '1', 4, 5)]
    expect(checkHistory(history)).toMatchObject({ verdict: 'illegal', key: 'x' })
  })

  it('should reject a lost write when an acknowledged put is never visible', () => {
    const history = [put('a', 'x', '1', 0, 1), get('b', 'x', null, 2, 3)]
    expect(checkHistory(history).verdict).toBe('illegal')
  })

  it('should reject reads going back in time when two sequential reads see new then old', () => {
    const history = [put('a', 'x', '1', 0, 1), put('a', 'x', '2', 2, 20), get('b', 'x', '2', 3, 4), get('c', 'x', '1', 5, 6)]
    expect(checkHistory(history).verdict).toBe('illegal')
  })

  it('should reject a read of a value no one wrote when the value is phantom', () => {
    expect(checkHistory([put('a', 'x', '1', 0, 1), get('b', 'x', '9', 2, 3)]).verdict).toBe('illegal')
  })

  it('should accept when a pending put is observed or not observed', () => {
    const seen = [put('a', 'x', '1', 0), get('b', 'x', '1', 5, 6), get('b', 'x', '1', 7, 8)]
    const unseen = [put('a', 'x', '1', 0), get('b', 'x', null, 5, 6)]
    expect(checkHistory(seen).verdict).toBe('ok')
    expect(checkHistory(unseen).verdict).toBe('ok')
  })

  it('should reject when a pending put is observed and then unobserved', () => {
    const history = [put('a', 'x', '1', 0), get('b', 'x', '1', 5, 6), get('b', 'x', null, 7, 8)]
    expect(checkHistory(history).verdict).toBe('illegal')
  })

  it('should check each key alone when keys are independent', () => {
    const history = [put('a', 'x', '1', 0, 1), put('a', 'y', '2', 0, 1), get('b', 'x', '1', 2, 3), get('b', 'y', '1', 2, 3)]
    expect(checkHistory(history)).toMatchObject({ verdict: 'illegal', key: 'y' })
  })

  it('should accept appends in a concurrent order when outputs agree with one order', () => {
    const history: Operation[] = [
      { clientId: 'a', input: { kind: 'append', key: 'l', value: 'a' }, output: { value: 'ba' }, call: 0, return: 5 },
      { clientId: 'b', input: { kind: 'append', key: 'l', value: 'b' }, output: { value: 'b' }, call: 1, return: 4 }
    ]
    expect(checkHistory(history).verdict).toBe('ok')
    const broken = history.map((op) => ({ ...op, output: { value: 'ab' } }))
    expect(checkHistory(broken).verdict).toBe('illegal')
  })

  it('should report unknown when the step budget runs out', () => {
    const history: Operation[] = []
    for (let i = 0; i < 40; i++) history.push(put(`c${i}`, 'x', String(i), 0, 100))
    history.push(get('r', 'x', 'none', 101, 102))
    expect(checkHistory(history, { stepsMaxPerKey: 1_000 }).verdict).toBe('unknown')
  })

  it('should accept many overlapping clients and reject one corrupted read when histories are generated', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const history = overlappingHistory(seed)
      expect(checkHistory(history).verdict).toBe('ok')
      const reads = history.filter((op) => op.input.kind === 'get' && op.output?.value !== null)
      const victim = reads[seed % reads.length]
      if (victim === undefined) continue
      // A read that returns a value never written is illegal whatever the ordering.
      victim.output = { value: 'corrupt' }
      expect(checkHistory(history).verdict).toBe('illegal')
    }
  })
})

/**
 * A linearizable history by construction: operations take effect at distinct instants in a sequential
 * run, and each gets a call before and a return after its instant, so many of them overlap.
 */
function overlappingHistory (seed: number): Operation[] {
  let s = seed
  const next = (n: number): number => { s = (s * 1103515245 + 12345) % 2147483648; return s % n }
  const values = new Map<string, string | null>()
  const history: Operation[] = []
  for (let t = 10; t < 10 + 60 * 10; t += 10) {
    const key = `k${next(2)}`
    const call = t - 1 - next(9)
    const ret = t + 1 + next(9)
    if (next(2) === 0) {
      const value = `v${t}`
      values.set(key, value)
      history.push(put(`c${next(4)}`, key, value, call, ret))
    } else {
      history.push(get(`c${next(4)}`, key, values.get(key) ?? null, call, ret))
    }
  }
  return history
}
