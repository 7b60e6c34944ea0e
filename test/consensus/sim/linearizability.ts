/**
 * @module test/consensus/sim/linearizability
 * A linearizability checker for key-value histories: the Wing & Gong search with Lowe's memoization (the
 * algorithm porcupine implements), written here from the papers. A history is checked one key at a time
 * (P-compositionality: a history is linearizable iff every per-key sub-history is), which keeps the search
 * small. Each search has a step budget; when it runs out the verdict is 'unknown', never a hang.
 *
 * Pending operations (called, never returned) may or may not have taken effect. They are placed at the end
 * of time with an output the model accepts whatever it is, so the search may linearize a pending put at any
 * point after its call, or last (where nothing observes it), which is the same as "maybe never".
 */

/** One client operation on the key-value register map. */
export type KvInput =
  | { kind: 'put', key: string, value: string }
  | { kind: 'get', key: string }
  | { kind: 'append', key: string, value: string }

/** What the operation returned: `value` is the read value (null for a missing key) for gets and appends. */
export interface KvOutput {
  value?: string | null
}

export interface Operation {
  clientId: string
  input: KvInput
  /** Undefined while pending (never returned). */
  output?: KvOutput
  /** Virtual time of the call. */
  call: number
  /** Virtual time of the return; undefined while pending. */
  return?: number
}

export type Verdict = 'ok' | 'illegal' | 'unknown'

export interface CheckResult {
  verdict: Verdict
  /** For 'illegal' or 'unknown': the key whose sub-history failed or ran out of budget. */
  key?: string
  /** Search steps spent over all keys. */
  steps: number
}

export interface CheckOptions {
  /** Search steps allowed per key before the verdict becomes 'unknown'. @default DEFAULT_STEPS_MAX_PER_KEY */
  stepsMaxPerKey?: number
}

/** Enough for every simulator history seen (a few hundred ops per key); a real violation fails far sooner. */
export const DEFAULT_STEPS_MAX_PER_KEY = 2_000_000

/** The sequential model of one key: its value, or null when never written. */
type RegisterState = string | null

/** Applies `input` to `state`; returns the next state if `output` is what the model would return. */
function stepModel (state: RegisterState, input: KvInput, output: KvOutput | undefined):
{ ok: boolean, next: RegisterState } {
  switch (input.kind) {
    case 'put':
      return { ok: true, next: input.value }
    case 'get':
      // A pending get has no effect and any output: it never constrains the search.
      if (output === undefined) return { ok: true, next: state }
      return { ok: (output.value ?? null) === state, next: state }
    case 'append': {
      const next = (state ?? '') + input.value
      if (output === undefined) return { ok: true, next }
      return { ok: (output.value ?? null) === next, next }
    }
  }
}

/** A node of the doubly linked event list the search walks: a call or a return of operation `op`. */
interface EventNode {
  op: number
  isCall: boolean
  /** For a call: its matching return node. */
  match: EventNode | null
  prev: EventNode | null
  next: EventNode | null
}

/** Checks a whole history key by key; the first key that is not 'ok' decides. */
export function checkHistory (history: readonly Operation[], options: CheckOptions = {}): CheckResult {
  const byKey = new Map<string, Operation[]>()
  for (const op of history) {
    const list = byKey.get(op.input.key)
    if (list === undefined) byKey.set(op.input.key, [op])
    else list.push(op)
  }
  let steps = 0
  let unknownKey: string | undefined
  for (const [key, ops] of byKey) {
    const result = checkSingleKey(ops, options.stepsMaxPerKey ?? DEFAULT_STEPS_MAX_PER_KEY)
    steps += result.steps
    if (result.verdict === 'illegal') return { verdict: 'illegal', key, steps }
    if (result.verdict === 'unknown' && unknownKey === undefined) unknownKey = key
  }
  if (unknownKey !== undefined) return { verdict: 'unknown', key: unknownKey, steps }
  return { verdict: 'ok', steps }
}

/** Builds the event list: calls before returns at equal times (so touching operations count as concurrent). */
function buildEvents (ops: readonly Operation[]): EventNode {
  const events: Array<{ time: number, isCall: boolean, op: number }> = []
  ops.forEach((op, i) => {
    events.push({ time: op.call, isCall: true, op: i })
    events.push({ time: op.return ?? Number.POSITIVE_INFINITY, isCall: false, op: i })
  })
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1))
  const head: EventNode = { op: -1, isCall: false, match: null, prev: null, next: null }
  const calls = new Map<number, EventNode>()
  let tail = head
  for (const e of events) {
    const node: EventNode = { op: e.op, isCall: e.isCall, match: null, prev: tail, next: null }
    tail.next = node
    tail = node
    if (e.isCall) calls.set(e.op, node)
    else {
      const call = calls.get(e.op)
      if (call !== undefined) call.match = node
    }
  }
  return head
}

/** Removes a call and its return from the list (the operation is linearized). */
function lift (call: EventNode): void {
  const ret = call.match as EventNode
  if (call.prev !== null) call.prev.next = call.next
  if (call.next !== null) call.next.prev = call.prev
  if (ret.prev !== null) ret.prev.next = ret.next
  if (ret.next !== null) ret.next.prev = ret.prev
}

/** Puts a lifted call and its return back, in reverse order of `lift`. */
function unlift (call: EventNode): void {
  const ret = call.match as EventNode
  if (ret.prev !== null) ret.prev.next = ret
  if (ret.next !== null) ret.next.prev = ret
  if (call.prev !== null) call.prev.next = call
  if (call.next !== null) call.next.prev = call
}

/**
 * The WGL search on one key. Walk the event list: at a call, try to linearize the operation now (the model
 * accepts its output and the pair (set of linearized ops, state) was not seen before), then restart from the
 * head; at a return, the operation it closes had to be linearized already, so backtrack the last choice.
 */
function checkSingleKey (ops: readonly Operation[], stepsMax: number): { verdict: Verdict, steps: number } {
  const head = buildEvents(ops)
  const linearized = new Uint32Array(Math.ceil(ops.length / 32) + 1)
  const seen = new Set<string>()
  const stack: Array<{ call: EventNode, state: RegisterState }> = []
  let state: RegisterState = null
  let entry = head.next
  let steps = 0
  while (head.next !== null) {
    steps++
    if (steps > stepsMax) return { verdict: 'unknown', steps }
    if (entry === null) return { verdict: 'illegal', steps }
    if (entry.isCall) {
      const op = ops[entry.op] as Operation
      const result = stepModel(state, op.input, op.output)
      if (result.ok) {
        setBit(linearized, entry.op, true)
        const memo = memoKey(linearized, result.next)
        if (!seen.has(memo)) {
          seen.add(memo)
          stack.push({ call: entry, state })
          state = result.next
          lift(entry)
          entry = head.next
          continue
        }
        setBit(linearized, entry.op, false)
      }
      entry = entry.next
    } else {
      // A return whose call is still in the list: no linearization of the prefix works; undo one choice.
      const top = stack.pop()
      if (top === undefined) return { verdict: 'illegal', steps }
      state = top.state
      setBit(linearized, top.call.op, false)
      unlift(top.call)
      entry = top.call.next
    }
  }
  return { verdict: 'ok', steps }
}

function setBit (bits: Uint32Array, index: number, value: boolean): void {
  const word = index >>> 5
  const mask = 1 << (index & 31)
  bits[word] = value ? ((bits[word] as number) | mask) : ((bits[word] as number) & ~mask)
}

/** The memo key: the linearized set and the model state (states are short strings, so no hashing needed). */
function memoKey (bits: Uint32Array, state: RegisterState): string {
  let key = ''
  for (const word of bits) key += word.toString(36) + ','
  return key + (state === null ? '\u0000' : 's' + state)
}
