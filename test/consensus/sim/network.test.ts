/**
 * Goal: the simulated network and the crash model do what the fault model claims, since every simulator
 * verdict rests on them. Method: drive them directly with fixed seeds and check deliveries and state.
 */
import { describe, expect, it } from 'vitest'
import { EntryType, MessageType, type Entry, type Message } from '../../../src/consensus/core/types.js'
import { MemoryStorage } from '../../../src/consensus/storage/memory-storage.js'
import { SimNetwork } from './network.js'
import { SimRandom } from './random.js'

function message (from: string, to: string, index = 0): Message {
  return { type: MessageType.Heartbeat, from, to, term: 1, index, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0 }
}

function entry (index: number, term = 1): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array([index]) }
}

const calm = { delayTicksMax: 0, lossRate: 0, duplicateRate: 0, spikeRate: 0 }

describe('SimNetwork', () => {
  it('should drop both directions when a symmetric partition is set and deliver again after heal', () => {
    const network = new SimNetwork(new SimRandom(1), calm)
    network.partition(['a'], ['b'])
    network.send(message('a', 'b'), 0)
    network.send(message('b', 'a'), 0)
    expect(network.due(0)).toEqual([])
    network.heal()
    network.send(message('a', 'b'), 1)
    expect(network.due(1)).toHaveLength(1)
  })

  it('should never deliver to or from a lost node again, even after heal, and drop what it had in flight', () => {
    const network = new SimNetwork(new SimRandom(1), { ...calm, delayTicksMax: 3 })
    network.send(message('a', 'b'), 0)
    network.send(message('c', 'b'), 0)
    network.lose(['a'])
    network.heal()
    network.send(message('b', 'a'), 1)
    network.send(message('a', 'c'), 1)
    network.send(message('b', 'c'), 1)
    const delivered = [0, 1, 2, 3, 4, 5].flatMap((tick) => network.due(tick)).map((m) => `${m.from}>${m.to}`)
    expect(delivered.sort()).toEqual(['b>c', 'c>b'])
  })

  it('should drop only the cut direction when a one-way partition is set', () => {
    const network = new SimNetwork(new SimRandom(1), calm)
    network.partition(['a'], ['b'], true)
    network.send(message('a', 'b'), 0)
    network.send(message('b', 'a'), 0)
    expect(network.due(0).map((m) => m.from)).toEqual(['b'])
  })

  it('should reorder and duplicate the same way when the seed is the same', () => {
    const run = (seed: number): number[] => {
      const network = new SimNetwork(new SimRandom(seed), { delayTicksMax: 4, lossRate: 0.1, duplicateRate: 0.3, spikeRate: 0.1 })
      for (let i = 0; i < 50; i++) network.send(message('a', 'b', i), 0)
      const order: number[] = []
      for (let t = 0; t < 40; t++) order.push(...network.due(t).map((m) => m.index))
      return order
    }
    expect(run(9)).toEqual(run(9))
    const order = run(9)
    expect(order).not.toEqual([...order].sort((x, y) => x - y))
    expect(new Set(order).size).toBeLessThan(order.length)
  })
})

describe('MemoryStorage (crash model the simulator relies on)', () => {
  it('should keep synced writes and drop unsynced ones when it crashes', () => {
    const storage = new MemoryStorage()
    storage.setHardState({ term: 1, vote: 'a', commit: 0 })
    storage.append([entry(1), entry(2)])
    storage.sync()
    storage.setHardState({ term: 2, vote: 'b', commit: 2 })
    storage.append([entry(3, 2)])
    storage.crash()
    const state = storage.load()
    expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 0 })
    expect(state.entries.map((e) => e.index)).toEqual([1, 2])
  })

  it('should keep a torn prefix with the records before it when asked to', () => {
    const storage = new MemoryStorage()
    storage.append([entry(1), entry(2), entry(3)])
    storage.sync()
    storage.setHardState({ term: 2, vote: null, commit: 1 })
    storage.append([entry(2, 2), entry(3, 2), entry(4, 2)])
    storage.crash({ keepUnsyncedEntries: 1 })
    const state = storage.load()
    expect(state.hardState.term).toBe(2)
    expect(state.entries.map((e) => `${e.index}:${e.term}`)).toEqual(['1:1', '2:2'])
  })

  it('should restore an overwritten suffix when the overwrite was not synced', () => {
    const storage = new MemoryStorage()
    storage.append([entry(1), entry(2), entry(3)])
    storage.sync()
    storage.append([entry(2, 2)])
    storage.crash()
    expect(storage.load().entries.map((e) => `${e.index}:${e.term}`)).toEqual(['1:1', '2:1', '3:1'])
  })
})
