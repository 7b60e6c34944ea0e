/**
 * @module cli/shape-commands
 * Commands about the committed MeshShape and changing it: `shape`, `propose`, `target set|show`,
 * `remove-member`, `decisions`. Arguments are validated here before any request (exit 3); a committed
 * rejection exits 2 with its code; the server's `{error, message}` answers map to the exit codes of
 * api/errors.ts.
 */
import type { Command } from 'commander'
import { Argument, Option } from 'commander'
import { apiGetChecked, apiRequestChecked } from '../api/client.js'
import type { AnswerFields } from '../api/client.js'
import { DATA_DIR_HELP, dataDirOf } from './common.js'
import { pairs, print, printJson, printTable } from './output.js'
import { CliInputError, TARGET_RANGES, checkNodeId, parseCount, parseRoles } from './validate.js'
import { readMembers } from './node-commands.js'
import { STATUS_FIELDS } from './node-commands.js'
import type { StatusAnswer } from './node-commands.js'

/** Kinds and reasons an operator may propose (the server's lists; kept here so `--help` needs no import of the node). */
const PROPOSAL_KINDS = ['promote', 'demote', 'quarantine', 'restore', 'remove-member'] as const
const OPERATOR_REASONS = ['replacing-failed', 'scaling-up', 'scaling-down', 'health-degraded', 'operator', 'rebalance'] as const
const PRESETS = ['homelab', 'ha-three'] as const
/** How long a proposal may take through Raft before the CLI stops waiting. */
const PROPOSAL_TIMEOUT_MS = 30_000
/**
 * `remove-member` and `leave`: a demote, up to REMOVAL_SEAL_WAIT_MS (30 s) for a seal over the departure when the
 * chain needs the member's signature, then the removal, each proposal up to the node's operation timeout.
 */
export const REMOVAL_TIMEOUT_MS = 90_000
/** The fields of a proposal's answer the CLI reads (checkAnswer). */
export const PROPOSAL_FIELDS: AnswerFields = {
  index: 'number', term: 'number?', duplicate: 'boolean?', outcome: { record: { kind: 'string', code: 'string?', message: 'string?' } }, target: 'object?'
}
/** The fields of `GET /v1/shape` the CLI reads, nested ones too (checkAnswer). */
const SHAPE_FIELDS: AnswerFields = {
  cid: 'string',
  appliedIndex: 'number',
  target: 'object',
  members: { list: { nodeId: 'string', roles: 'strings' } },
  removed: 'strings?',
  pins: { list: { nodeId: 'string', role: 'string', holds: 'boolean' }, optional: true }
}

interface ShapeAnswer {
  cid: string
  appliedIndex: number
  target: Record<string, number>
  voters: string[]
  members: Array<{ nodeId: string, roles: string[] }>
  removed?: string[]
  pins?: Array<{ nodeId: string, role: string, holds: boolean }>
}

/** `POST /v1/remove-member` and `/v1/leave`: a proposal's answer plus what the removal did about the chain's hand-over. */
export const REMOVAL_FIELDS: AnswerFields = {
  ...PROPOSAL_FIELDS, departure: { record: { seal: 'string', waitedMs: 'number?', sealedHeight: 'number?' }, optional: true }
}

export interface ProposalAnswer {
  index: number
  term: number
  cid: string
  duplicate?: boolean
  outcome: { kind: string, code?: string, message?: string }
  target?: Record<string, number>
  departure?: { seal: string, waitedMs?: number, sealedHeight?: number }
}

export function registerShapeCommands (program: Command): void {
  program.command('shape')
    .description('show the committed MeshShape: who holds which role, Raft membership and health (linearizable read by default)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .option('--stale', 'answer from this node\'s applied state without a ReadIndex round')
    .action(runShape)
  program.command('propose')
    .description('propose a role change through Raft and print the typed result (exit 2 if rejected)')
    .addArgument(new Argument('<kind>', PROPOSAL_KINDS.join(' | ')).choices(PROPOSAL_KINDS))
    .argument('<nodeId>', 'the member to change (see `revoada shape`)')
    .option('--roles <r1,r2>', 'for promote/demote: api-server,etcd,scheduler,controller-manager')
    .addOption(new Option('--reason <reason>', 'why (recorded in the log)').choices(OPERATOR_REASONS).default('operator'))
    .option('--pin', 'record the assignment as the operator\'s: the policy scales around it and never undoes it (until `revoada unpin`)')
    .option('--force', 'propose even if the policy would undo it (it may)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print the result as JSON')
    .action(runPropose)
  program.command('remove-member')
    .description('remove a member: demote its roles, drop it from the shape and the Raft configuration; it refuses to run again until reset')
    .argument('<nodeId>', 'the member to remove (to remove this node itself, use `revoada leave`)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print the result as JSON')
    .action(runRemoveMember)
  const target = program.command('target').description('the target topology the policies keep')
  target.command('set')
    .description('set the target: a preset, or the counts to change (the others stay as they are)')
    .addArgument(new Argument('[preset]', PRESETS.join(' | ')).choices(PRESETS))
    .option('--api-servers <n>', 'api-server holders (0..16)')
    .option('--etcd <n>', 'etcd holders = Raft voters (1..7, odd)')
    .option('--schedulers <n>', 'scheduler holders (0..16)')
    .option('--controller-managers <n>', 'controller-manager holders (0..16)')
    .option('--min-workers <n>', 'minimum workers (0..1024)')
    .option('--yes', 'accept an even etcd count or one that tolerates fewer failed voters than the live voters do now')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print the result as JSON')
    .action(runTargetSet)
  target.command('show')
    .description('show the target topology, the live voters and their fault tolerance')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .action(runTargetShow)
}

async function runShape (opts: { dataDir?: string, json?: boolean, stale?: boolean }): Promise<void> {
  const dataDir = dataDirOf(opts)
  const shapePath = `/v1/shape${opts.stale === true ? '?stale=true' : ''}`
  const shape = await apiGetChecked<ShapeAnswer>(dataDir, shapePath, SHAPE_FIELDS)
  if (opts.json === true) {
    printJson(shape)
    return
  }
  // Health and Raft membership come from this node's views; a shape is still worth printing without them.
  const members = await readMembers(dataDir).catch(() => undefined)
  const status = await apiGetChecked<StatusAnswer>(dataDir, '/v1/status', STATUS_FIELDS).catch(() => undefined)
  const health = new Map(members?.members.map((m) => [m.nodeId, m.health]) ?? [])
  const raftOf = (id: string): string => {
    if (status === undefined) return '?'
    const place = status.voters?.includes(id) === true ? 'voter' : status.learners?.includes(id) === true ? 'learner' : '-'
    return id === status.leader ? `${place} (leader)` : place
  }
  const rows = [['NODE', 'ROLES', 'RAFT', 'HEALTH']]
  for (const m of shape.members) rows.push([m.nodeId + (m.nodeId === status?.nodeId ? ' *' : ''), m.roles.join(','), raftOf(m.nodeId), health.get(m.nodeId) ?? 'unknown'])
  print(`Shape ${shape.cid} at index ${shape.appliedIndex}`)
  print(`Target: ${pairs(shape.target)}`)
  printTable(rows)
  if (status !== undefined) print('(* = the node answering)')
  // Operator pins: `+role` the node keeps it, `-role` it never gets it (until `revoada unpin`).
  print(`Pins:    ${(shape.pins ?? []).map((p) => `${p.nodeId} ${p.holds ? '+' : '-'}${p.role}`).join(' ') || '(none)'}`)
  if ((shape.removed ?? []).length > 0) print(`Removed: ${(shape.removed ?? []).join(' ')}`)
}

export function printProposal (what: string, result: ProposalAnswer, json: boolean | undefined): void {
  if (json === true) printJson(result)
  else if (result.outcome.kind === 'applied') print(`${what}: applied at index ${result.index} (term ${result.term})${result.duplicate === true ? ', a retry of an earlier proposal' : ''}`)
  else print(`${what}: rejected at index ${result.index}: ${result.outcome.code ?? ''}: ${result.outcome.message ?? ''}`)
  if (result.outcome.kind !== 'applied') process.exitCode = 2
}

async function runPropose (kind: string, nodeId: string, opts: { dataDir?: string, roles?: string, reason?: string, json?: boolean, pin?: boolean, force?: boolean }): Promise<void> {
  checkNodeId(nodeId)
  const needsRoles = kind === 'promote' || kind === 'demote'
  if (needsRoles && opts.roles === undefined) throw new CliInputError(`${kind} needs --roles (e.g. --roles etcd,api-server)`)
  if (!needsRoles && opts.roles !== undefined) throw new CliInputError(`${kind} takes no --roles`)
  if (opts.pin === true && !needsRoles) throw new CliInputError(`${kind} takes no --pin`)
  const body = {
    kind, nodeId, ...(opts.roles !== undefined ? { roles: parseRoles(opts.roles) } : {}), reason: opts.reason ?? 'operator',
    ...(opts.pin === true ? { pin: true } : {}), ...(opts.force === true ? { force: true } : {})
  }
  const result = await apiRequestChecked<ProposalAnswer>(dataDirOf(opts), 'POST', '/v1/proposals', body, PROPOSAL_FIELDS, PROPOSAL_TIMEOUT_MS)
  printProposal(`${kind} ${nodeId}`, result, opts.json)
}

async function runRemoveMember (nodeId: string, opts: { dataDir?: string, json?: boolean }): Promise<void> {
  checkNodeId(nodeId)
  const result = await apiRequestChecked<ProposalAnswer>(dataDirOf(opts), 'POST', '/v1/remove-member', { nodeId }, REMOVAL_FIELDS, REMOVAL_TIMEOUT_MS)
  printProposal(`remove-member ${nodeId}`, result, opts.json)
  if (opts.json !== true) printDeparture(nodeId, result.departure)
}

/** What a removal did about the attestation chain's hand-over (docs/OPERATIONS.md, "Removal, leaving, and coming back"). */
export function printDeparture (nodeId: string, departure: ProposalAnswer['departure']): void {
  if (departure?.seal === 'covered') {
    print(`the chain needed ${nodeId}'s signature: removed after a seal covered its departure (sealed to height ${departure.sealedHeight ?? '?'}, waited ${((departure.waitedMs ?? 0) / 1000).toFixed(1)} s)`)
  } else if (departure?.seal === 'member-gone') {
    print(`warning: the chain needed ${nodeId}'s signature to seal again, and it is gone: the attestation chain stays unsealed (docs/OPERATIONS.md, "Removal, leaving, and coming back")`)
  }
}

interface TargetOptions {
  dataDir?: string
  apiServers?: string
  etcd?: string
  schedulers?: string
  controllerManagers?: string
  minWorkers?: string
  yes?: boolean
  json?: boolean
}

/** The request body for `target set`, or why the arguments cannot be right. */
export function targetRequest (preset: string | undefined, opts: TargetOptions): Record<string, unknown> {
  const flags: Array<[keyof typeof TARGET_RANGES, string, string | undefined]> = [
    ['apiServers', '--api-servers', opts.apiServers], ['etcd', '--etcd', opts.etcd], ['schedulers', '--schedulers', opts.schedulers],
    ['controllerManagers', '--controller-managers', opts.controllerManagers], ['minWorkers', '--min-workers', opts.minWorkers]
  ]
  const given = flags.filter(([, , v]) => v !== undefined)
  if (preset !== undefined && given.length > 0) {
    throw new CliInputError(`give a preset or counts, not both: ${preset} sets every count, so ${given.map(([, f]) => f).join(', ')} would be ignored`)
  }
  if (preset === undefined && given.length === 0) throw new CliInputError('nothing to set: give a preset (homelab | ha-three) or at least one count (e.g. --etcd 3)')
  const force = opts.yes === true ? { force: true } : {}
  if (preset !== undefined) return { preset, ...force }
  const target: Record<string, number> = {}
  for (const [key, flag, value] of given) target[key] = parseCount(flag, value as string, TARGET_RANGES[key])
  if (target.etcd !== undefined && target.etcd % 2 === 0 && opts.yes !== true) {
    throw new CliInputError(`--etcd ${target.etcd} is even: it tolerates no more failed voters than ${target.etcd - 1}, with one more machine that can fail; use ${target.etcd - 1} or ${target.etcd + 1}, or pass --yes`)
  }
  return { target, ...force }
}

async function runTargetSet (preset: string | undefined, opts: TargetOptions): Promise<void> {
  const body = targetRequest(preset, opts)
  const result = await apiRequestChecked<ProposalAnswer>(dataDirOf(opts), 'POST', '/v1/target', body, PROPOSAL_FIELDS, PROPOSAL_TIMEOUT_MS)
  printProposal(`target ${pairs(result.target ?? {})}`, result, opts.json)
}

async function runTargetShow (opts: { dataDir?: string, json?: boolean }): Promise<void> {
  const answer = await apiGetChecked<{ target: Record<string, number>, voters: number, liveVoters: number, faultTolerance: number }>(dataDirOf(opts), '/v1/target',
    { target: 'object', voters: 'number', liveVoters: 'number', faultTolerance: 'number' })
  if (opts.json === true) {
    printJson(answer)
    return
  }
  print(`Target: ${pairs(answer.target)}`)
  print(`Voters: ${answer.voters} (${answer.liveVoters} alive: tolerates ${answer.faultTolerance} more failed voter(s))`)
}
