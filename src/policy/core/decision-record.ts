/**
 * @module policy/core/decision-record
 * The decision log's record (issue 12 item 4): one leader evaluation that proposed or withheld something,
 * stamped with the leader that made it and its term. Records travel on the cluster's decisions gossip
 * topic and sit in every node's log, so they are read from any node and outlive the leader that made
 * them. `parseDecisionRecord` is the one door for a record from a peer or a file: it trusts no number,
 * size or string and returns null for anything that is not exactly a well-formed, bounded record.
 */
import { PRIORITIES } from './types.js'
import type { ControlPlaneRole, Decision, Proposal, Withheld, WithheldCode } from './types.js'
import { CONTROL_PLANE_ROLES, REASONS } from '../../consensus/shape/core/types.js'
import { MAX_ETCD_HOLDERS } from '../../consensus/shape/core/constants.js'

/** Proposals and withheld items carried per record; the rest is cut (and counted in `truncated`). */
export const DECISION_ITEMS_MAX = 32
/** Characters of any one string in a record. */
export const DECISION_STRING_CHARS_MAX = 512
/**
 * Latest time a record may carry (`atMs`, `retryAtMs`): the last a Date can show (ECMA-262 §21.4.1.1, 8.64e15 ms
 * after the epoch). A safe integer above it passed, and `new Date(t).toISOString()` threw RangeError in
 * `revoada decisions` on every node that took the record.
 */
export const DECISION_TIME_MS_MAX = 8.64e15

export interface DecisionRecord extends Decision {
  v: 1
  /** The leader that evaluated (the gossip sender must be this node). */
  by: string
  term: number
  /** Increases with every record `by` makes while its engine runs; with `by` and `term` it names the record. */
  seq: number
  /** Items cut to stay within DECISION_ITEMS_MAX. */
  truncated: number
}

const WITHHELD_CODES: readonly WithheldCode[] = ['no-quorum', 'in-flight', 'damped-node', 'damped-cluster', 'unstable', 'no-candidate', 'one-voter-change', 'pinned', 'unknown-holder', 'lagging', 'rejected']
const TRIGGERS: ReadonlyArray<Decision['trigger']> = ['membership', 'shape', 'audit', 'manual']
const RETRY_ON: ReadonlyArray<Withheld['retryOn']> = ['time', 'commit', 'membership', 'operator']

export function recordId (r: Pick<DecisionRecord, 'by' | 'term' | 'seq'>): string {
  return `${r.by}/${r.term}/${r.seq}`
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isText = (v: unknown): v is string => typeof v === 'string' && v.length <= DECISION_STRING_CHARS_MAX
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isTime = (v: unknown): v is number => isCount(v) && v <= DECISION_TIME_MS_MAX
const oneOf = <T>(values: readonly T[], v: unknown): v is T => (values as readonly unknown[]).includes(v)

function parseCommand (v: unknown): Proposal['command'] | null {
  if (!isRecord(v) || !isText(v.kind)) return null
  const nodeId = v.nodeId
  if (!isText(nodeId) || nodeId.length === 0) return null
  if (v.kind === 'promote' || v.kind === 'demote') {
    const roles = Array.isArray(v.roles) && v.roles.length <= CONTROL_PLANE_ROLES.length && v.roles.every((r) => oneOf(CONTROL_PLANE_ROLES, r))
      ? v.roles as ControlPlaneRole[]
      : null
    if (roles === null || roles.length === 0) return null
    // A replacement (issue 16): the node that gives the roles up in the same command.
    if (v.kind === 'promote' && v.with === undefined && v.replacing !== undefined) {
      return isText(v.replacing) && v.replacing.length > 0 ? { kind: v.kind, nodeId, roles, replacing: v.replacing } : null
    }
    if (v.kind === 'demote' || v.with === undefined) return { kind: v.kind, nodeId, roles }
    // A joined promotion (issue 16): its other nodes, bounded like the command itself.
    const others = Array.isArray(v.with) && v.with.length > 0 && v.with.length < MAX_ETCD_HOLDERS && v.with.every((id) => isText(id) && id.length > 0)
      ? v.with as string[]
      : null
    return others === null ? null : { kind: v.kind, nodeId, roles, with: others }
  }
  return oneOf(['bootstrap', 'add-member', 'remove-member', 'quarantine', 'restore', 'unpin'] as const, v.kind) ? { kind: v.kind, nodeId } : null
}

function parseProposal (v: unknown): Proposal | null {
  if (!isRecord(v) || !isText(v.policy) || !isText(v.why) || !oneOf(REASONS, v.reason) || !oneOf(PRIORITIES, v.priority)) return null
  const command = parseCommand(v.command)
  return command === null ? null : { policy: v.policy, command, reason: v.reason, why: v.why, priority: v.priority }
}

function parseWithheld (v: unknown): Withheld | null {
  if (!isRecord(v) || !isText(v.policy) || !isText(v.what) || !isText(v.why) || !oneOf(WITHHELD_CODES, v.code) || !oneOf(RETRY_ON, v.retryOn)) return null
  if (v.nodeId !== undefined && !isText(v.nodeId)) return null
  if (v.retryAtMs !== undefined && !isTime(v.retryAtMs)) return null
  return {
    policy: v.policy, what: v.what, code: v.code, why: v.why, retryOn: v.retryOn,
    ...(typeof v.nodeId === 'string' ? { nodeId: v.nodeId } : {}),
    ...(typeof v.retryAtMs === 'number' ? { retryAtMs: v.retryAtMs } : {})
  }
}

function parseList<T> (v: unknown, parse: (item: unknown) => T | null): T[] | null {
  if (!Array.isArray(v) || v.length > DECISION_ITEMS_MAX) return null
  const out: T[] = []
  for (const item of v) {
    const parsed = parse(item)
    if (parsed === null) return null
    out.push(parsed)
  }
  return out
}

/** A bounded, well-formed record, or null. Never throws. */
export function parseDecisionRecord (v: unknown): DecisionRecord | null {
  if (!isRecord(v) || v.v !== 1 || !isText(v.by) || v.by.length === 0) return null
  if (!isCount(v.term) || !isCount(v.seq) || !isTime(v.atMs) || !isCount(v.truncated) || !oneOf(TRIGGERS, v.trigger)) return null
  const proposals = parseList(v.proposals, parseProposal)
  const withheld = parseList(v.withheld, parseWithheld)
  if (proposals === null || withheld === null) return null
  return { v: 1, by: v.by, term: v.term, seq: v.seq, atMs: v.atMs, trigger: v.trigger, leader: true, proposals, withheld, truncated: v.truncated }
}

const clip = (s: string): string => s.length > DECISION_STRING_CHARS_MAX ? s.slice(0, DECISION_STRING_CHARS_MAX - 1) + '…' : s
/** A time as parseDecisionRecord takes it: a whole number of ms within what a Date can show. */
const clampTime = (t: number): number => Math.min(DECISION_TIME_MS_MAX, Math.max(0, Math.floor(t)))

/** Builds the record of a decision, cut to the bounds `parseDecisionRecord` accepts. */
export function toDecisionRecord (decision: Decision, stamp: { by: string, term: number, seq: number }): DecisionRecord {
  const proposals = decision.proposals.slice(0, DECISION_ITEMS_MAX).map((p) => ({ ...p, policy: clip(p.policy), why: clip(p.why) }))
  const withheld = decision.withheld.slice(0, DECISION_ITEMS_MAX).map((w) => ({
    ...w, policy: clip(w.policy), what: clip(w.what), why: clip(w.why), ...(w.retryAtMs !== undefined ? { retryAtMs: clampTime(w.retryAtMs) } : {})
  }))
  const truncated = decision.proposals.length - proposals.length + decision.withheld.length - withheld.length
  return { v: 1, ...stamp, atMs: clampTime(decision.atMs), trigger: decision.trigger, leader: true, proposals, withheld, truncated }
}

/** What a decision says, without its times: two evaluations with the same content are one record. */
export function decisionContent (d: Pick<Decision, 'proposals' | 'withheld'>): string {
  return JSON.stringify([d.proposals.map((p) => [p.command, p.reason]), d.withheld.map((w) => [w.code, w.what, w.nodeId ?? ''])])
}
