/**
 * @module bench/frame-decode
 * `npm run build && node --expose-gc dist/bench/frame-decode.js`: what one Raft frame costs its receiver to
 * decode — time, and heap held by the result — for a frame of one-byte `{}` items up to MAX_FRAME_BYTES (what a
 * key holder can send) beside the largest Apps this build's leader sends: entries of the fewest bytes, proposed
 * at once and cut by the core (MAX_SIZE_PER_MSG_BYTES, MAX_ENTRIES_PER_MSG) on their way to a learner. Each
 * frame goes through the one-pass reader (`decodeCanonicalFast`), the general path (`decodeBounded`, here on
 * the same frame with its keys out of order, which the reader leaves to it) and `decodeFrame` both ways.
 * Median of 3 runs; single-threaded, so a busy machine shows.
 */
import '../src/polyfill.js'
import { decodeBounded, decodeCanonicalFast, encodeCanonical, NOT_FAST, overBounds } from '../src/codec/index.js'
import { MAX_SIZE_PER_MSG_BYTES } from '../src/consensus/constants.js'
import { createPrng, MessageType, RawNode } from '../src/consensus/core/index.js'
import type { ConfState, Message, ProposalId } from '../src/consensus/core/index.js'
import { decodeFrame, encodeFrame, FRAME_ITEMS_MAX, MAX_FRAME_BYTES } from '../src/consensus/transport/wire.js'
import { machineDescription, printTable } from './lib/stats.js'

const gc = (globalThis as { gc?: () => void }).gc

/** Data items in `bytes` (every head but a break), by bisection on the scan's bound. */
function itemsOf (bytes: Uint8Array): number {
  let low = 0
  let high = bytes.length
  while (low < high) {
    const mid = Math.floor((low + high) / 2)
    if (overBounds(bytes, Number.MAX_SAFE_INTEGER, mid) === 'items') low = mid + 1
    else high = mid
  }
  return low
}

/** A canonical App frame whose `e` holds `count` one-byte `{}` (all that fit in MAX_FRAME_BYTES by default). */
function floodFrame (fit?: number): { bytes: Uint8Array, count: number } {
  const head = encodeFrame({ type: MessageType.App, from: 'a', to: 'b', term: 1, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0 })
  // `e` (0x61 0x65) holds an empty array (0x80): write a 4-byte length head there and `count` 0xa0 after it.
  let at = 0
  while (!(head[at] === 0x61 && head[at + 1] === 0x65 && head[at + 2] === 0x80)) at++
  at += 2
  const count = fit ?? MAX_FRAME_BYTES - head.length - 4
  const out = new Uint8Array(head.length + 4 + count)
  out.set(head.subarray(0, at), 0)
  out.set([0x9a, count >>> 24, (count >>> 16) & 255, (count >>> 8) & 255, count & 255], at)
  out.fill(0xa0, at + 5, at + 5 + count)
  out.set(head.subarray(at + 1), at + 5 + count)
  return { bytes: out, count }
}

/** The App with the most entries a leader sends a learner that catches up on `items` proposed at once. */
function largestApp (items: Array<{ data: Uint8Array, proposalId?: ProposalId }>): Message {
  const conf: ConfState = { voters: ['a'], votersOutgoing: [], learners: ['b'], learnersNext: [], autoLeave: false }
  const nodes = new Map(['a', 'b'].map((id, seed) => [id, new RawNode({
    id, electionTicks: 10, heartbeatTicks: 1, random: createPrng(seed + 1), maxSizePerMsgBytes: MAX_SIZE_PER_MSG_BYTES
  }, { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }, conf)]))
  let largest: Message | undefined
  const pump = (): void => {
    for (let round = 0; round < 100_000; round++) {
      const sent: Message[] = []
      for (const node of nodes.values()) {
        if (!node.hasReady()) continue
        const rd = node.ready()
        sent.push(...rd.messages, ...rd.messagesAfterPersist)
        node.advance()
      }
      if (sent.length === 0) return
      for (const m of sent) {
        if (m.type === MessageType.App && m.entries.length > (largest?.entries.length ?? 0)) largest = m
        nodes.get(m.to)?.step(m)
      }
    }
  }
  nodes.get('a')!.campaign()
  pump()
  nodes.get('a')!.proposeMany(items)
  pump()
  if (largest === undefined) throw new Error('no App sent')
  return largest
}

/** The frame with its top-level keys in reverse canonical order: valid CBOR that the one-pass reader leaves. */
function keysReversed (frame: Uint8Array): Uint8Array {
  const value = decodeBounded<Record<string, unknown>>(frame)
  const parts = Object.keys(value).reverse().map((key) => encodeCanonical({ [key]: value[key] }).subarray(1))
  const out = new Uint8Array(1 + parts.reduce((sum, part) => sum + part.length, 0))
  out[0] = 0xa0 | parts.length
  let at = 1
  for (const part of parts) { out.set(part, at); at += part.length }
  return out
}

interface Cost { ms: number, heapMiB: number, outcome: string }

function cost (run: () => unknown): Cost {
  const runs: Cost[] = []
  for (let i = 0; i < 3; i++) {
    gc?.()
    const before = process.memoryUsage().heapUsed
    const start = performance.now()
    let outcome = 'value'
    try {
      const value = run()
      if (value === NOT_FAST) outcome = 'NOT_FAST'
      runs.push({ ms: performance.now() - start, heapMiB: (process.memoryUsage().heapUsed - before) / 2 ** 20, outcome })
    } catch (err) {
      outcome = `${(err as Error).name}: ${(err as Error).message.slice(0, 40)}`
      runs.push({ ms: performance.now() - start, heapMiB: (process.memoryUsage().heapUsed - before) / 2 ** 20, outcome })
    }
  }
  runs.sort((a, b) => a.ms - b.ms)
  return runs[1]!
}

async function main (): Promise<void> {
  if (gc === undefined) console.log('(heap figures need --expose-gc)')
  console.log(`raft frame decode — ${await machineDescription()}`)
  const flood = floodFrame()
  // The empty frame's 23 items (its map, 11 keys, their values) and this many `{}`: FRAME_ITEMS_MAX exactly.
  const bound = floodFrame(FRAME_ITEMS_MAX - 23)
  const many = 60_000
  const frames: Array<[string, Uint8Array]> = [
    [`flood: ${flood.count} × {}`, flood.bytes],
    [`flood at the bound: ${bound.count} × {}`, bound.bytes],
    ['App: empty entries', encodeFrame(largestApp(Array.from({ length: many }, () => ({ data: new Uint8Array(0) }))))],
    ['App: 0 B data, client id ""', encodeFrame(largestApp(Array.from({ length: many }, (_, seq) => ({ data: new Uint8Array(0), proposalId: { clientId: '', seq } }))))],
    ['App: 40 B data, 60-char client id', encodeFrame(largestApp(Array.from({ length: many }, (_, seq) => ({ data: new Uint8Array(40), proposalId: { clientId: 'x'.repeat(60), seq } }))))]
  ]
  const rows: Array<Array<string | number>> = []
  for (const [name, bytes] of frames) {
    const entries = name.startsWith('flood') ? decodeBounded<{ e: unknown[] }>(bytes).e.length : decodeBounded<{ e: unknown[] }>(bytes).e.length
    const shuffled = keysReversed(bytes)
    for (const [path, run] of [
      ['decodeCanonicalFast', () => decodeCanonicalFast(bytes)],
      ['decodeBounded, keys reversed', () => decodeBounded(shuffled)],
      ['decodeFrame', () => decodeFrame(bytes)],
      ['decodeFrame, keys reversed', () => decodeFrame(shuffled)]
    ] as const) {
      const c = cost(run)
      rows.push([name, bytes.length, entries, itemsOf(bytes), path, c.ms.toFixed(1), gc === undefined ? '-' : c.heapMiB.toFixed(1), c.outcome])
    }
  }
  printTable(['frame', 'bytes', 'e', 'items', 'path', 'ms', 'heap MiB', 'outcome'], rows)
}

await main()
