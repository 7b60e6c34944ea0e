/**
 * `deadline` (src/util/deadline.ts) aborts after its timeout even when nothing but the waiting code's listener
 * refers to its signal and the garbage collector runs meanwhile. On Node 20 `AbortSignal.any([AbortSignal.timeout(ms),
 * …])` does not: that composite is collected and never aborts (a link monitor ping to a frozen peer waited for good).
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import { deadline } from '../../src/util/deadline.js'
import { waitFor } from '../node/helpers.js'

v8.setFlagsFromString('--expose-gc')
const collectGarbage = vm.runInNewContext('gc') as () => void

describe('deadline', () => {
  it('should abort after its timeout though only a listener refers to it and the collector ran', async () => {
    let fired = 0
    const start = (): void => {
      const { signal } = deadline(100, new AbortController().signal)
      signal.addEventListener('abort', () => { fired++ })
    }
    for (let i = 0; i < 50; i++) start()
    for (let i = 0; i < 3; i++) {
      collectGarbage()
      await new Promise((resolve) => setImmediate(resolve))
    }
    await waitFor(() => fired === 50, 5_000, 'every deadline fired')
    expect(fired).toBe(50)
  })

  it('should abort with the timeout, or with the reason of the signal that aborted first', async () => {
    const timed = deadline(10)
    await waitFor(() => timed.signal.aborted, 2_000, 'the timeout')
    expect((timed.signal.reason as Error).name).toBe('TimeoutError')
    const stop = new AbortController()
    const early = deadline(60_000, stop.signal)
    stop.abort(new Error('stopping'))
    expect(early.signal.aborted).toBe(true)
    expect((early.signal.reason as Error).message).toBe('stopping')
    const already = deadline(60_000, AbortSignal.abort(new Error('before')))
    expect((already.signal.reason as Error).message).toBe('before')
  })

  it('should not abort once cleared', async () => {
    const cleared = deadline(10)
    cleared.clear()
    const other = deadline(30)
    await waitFor(() => other.signal.aborted, 2_000, 'a later timeout')
    expect(cleared.signal.aborted).toBe(false)
  })
})
