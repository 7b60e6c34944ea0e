/**
 * @module cli/node-commands
 * Commands about one running node: `id`, `join-string`, `status`, `wait-ready`, `members`, `leave`. They find
 * the node through `<data-dir>/api.json`. Human output by default (tables with a header), `--json` for scripts.
 */
import path from 'node:path'
import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { NodeExitedError, NodeNotRunningError } from '../api/errors.js'
import { REMOVED_FILE_NAME, assertNotRemoved } from '../consensus/removal-record.js'
import { probeDataDirLock } from '../node/data-dir-lock.js'
import { apiGet, apiGetChecked, apiRequestChecked, checkAnswer } from '../api/client.js'
import type { AnswerFields } from '../api/client.js'
import { DATA_DIR_HELP, dataDirOf, throwRemovedOr } from './common.js'
import { bare, note, pick, print, printExact, printJson, printTable } from './output.js'
import { CliInputError, checkNodeId, parseCount, parseSeconds } from './validate.js'
import type { ElectionCounters } from '../consensus/raft-node.js'
import { steadyNowMs } from '../util/clock.js'
import { printDeparture, REMOVAL_FIELDS, REMOVAL_TIMEOUT_MS } from './shape-commands.js'
import type { ProposalAnswer } from './shape-commands.js'

/** The fields of `GET /v1/status` the CLI reads. */
export interface StatusAnswer {
  nodeId: string
  clusterId: string
  addresses: string[]
  peers: string[]
  pid: number
  dataDir: string
  role?: string
  term?: number
  leader?: string | null
  commitIndex?: number
  appliedIndex?: number
  roles?: string[]
  voters?: string[]
  learners?: string[]
  elections?: ElectionCounters
  quorumRecovery?: { lostVoters: string[], running: boolean }
  rejoining?: boolean
  /** The Raft driver stopped (a halt, or the node stopping): no leader or role is claimed. */
  stopped?: boolean
  storage?: { writable: boolean, error?: string, sinceMs?: number }
  [key: string]: unknown
}

export interface MembersAnswer {
  self: string
  members: Array<{ nodeId: string, health: string, generation: number, roles: string[], labels: Record<string, string>, phi: number | null, uptimeMs?: number }>
}

const POLL_MS = 250
/**
 * How long `wait-ready` lets a stale data-dir lock stand before it says no node runs: a start spends a second or
 * two loading before it takes the lock (several on a loaded machine), and until then the lock is its predecessor's.
 */
const WAIT_READY_STALE_LOCK_GRACE_MS = 15_000
/** The fields of `GET /v1/members` the CLI reads, each member's too (checkAnswer). */
const MEMBERS_FIELDS: AnswerFields = {
  self: 'string',
  members: { list: { nodeId: 'string', health: 'string', generation: 'number', roles: 'strings', phi: 'number-or-null', labels: 'string-map?' } }
}
/**
 * The fields of `GET /v1/status` the CLI reads (checkAnswer); all but nodeId absent on a node without a Raft
 * layer. Nested ones too: `status` printed `elections.campaigns` and `quorumRecovery.lostVoters` unchecked, and
 * a list that was no array (`voters: 3`) ended `status`, `wait-ready` or `shape` in a TypeError.
 */
export const STATUS_FIELDS: AnswerFields = {
  nodeId: 'string',
  clusterId: 'string?',
  addresses: 'strings?',
  peers: 'strings?',
  pid: 'number?',
  dataDir: 'string?',
  role: 'string?',
  term: 'number?',
  leader: 'string-or-null?',
  commitIndex: 'number?',
  appliedIndex: 'number?',
  roles: 'strings?',
  voters: 'strings?',
  learners: 'strings?',
  elections: { record: { campaigns: 'number-map', stepDowns: 'number-map', stalls: 'number' }, optional: true },
  quorumRecovery: { record: { lostVoters: 'strings', running: 'boolean' }, optional: true },
  rejoining: 'boolean?',
  storage: { record: { writable: 'boolean', error: 'string?', sinceMs: 'number?' }, optional: true },
  stopped: 'boolean?'
}

/**
 * `GET /v1/members`, its fields and each member's checked.
 * @throws NodeNotRunningError when the answer is no node's
 */
export async function readMembers (dataDir: string, timeoutMs?: number): Promise<MembersAnswer> {
  return await apiGetChecked<MembersAnswer>(dataDir, '/v1/members', MEMBERS_FIELDS, timeoutMs)
}

export function registerNodeCommands (program: Command): void {
  program.command('id')
    .description('print this node\'s NodeId (libp2p PeerId); works without a running node')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(runId)
  program.command('join-string')
    .description('print the one-line join string of the running node (secret: it carries the cluster key)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(runJoinString)
  program.command('status')
    .description('show the running node\'s status: NodeId, pid, data dir, Raft role, leader, log, roles, voters')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print the full status as JSON')
    .option('--get <field>', 'print one field of the JSON status (e.g. pid, leader, isLeader, voters)')
    .action(runStatus)
  program.command('wait-ready')
    .description('wait until the node in --data-dir answers and is a Raft member that knows its leader (exit 1 on timeout, 8 when its process is gone)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--timeout <seconds>', 'give up after this long (default 120: a failover on a loaded machine takes a while)')
    .option('--voters <n>', 'also wait until the shape has at least n etcd holders (voters) that membership sees alive or suspect (not dead)')
    .option('--without <nodeId>', 'with --voters: and <nodeId> no longer holds etcd (e.g. a killed voter was replaced)')
    .action(runWaitReady)
  program.command('members')
    .description('show the membership view: every member with its health (alive, suspect, dead, left), phi, roles')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .action(runMembers)
  program.command('leave')
    .description('this node leaves the cluster: hands off its roles, leaves the voter set, is removed, and stops')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print the result as JSON')
    .action(runLeave)
}

async function runId (opts: { dataDir?: string }): Promise<void> {
  const dataDir = dataDirOf(opts)
  try {
    const status = await readStatus(dataDir)
    print(status.nodeId)
  } catch (err) {
    // The NodeId is also readable offline from the identity file, which needs no running node.
    const { IDENTITY_FILE_NAME, readIdentity } = await import('../identity/index.js')
    const identity = await readIdentity(path.join(dataDir, IDENTITY_FILE_NAME))
    if (identity === undefined) throw err
    print(identity.nodeId)
  }
}

async function runJoinString (opts: { dataDir?: string }): Promise<void> {
  const dataDir = dataDirOf(opts)
  const body = checkAnswer(dataDir, '/v1/join-string', await apiGet(dataDir, '/v1/join-string'), { joinString: 'string' }) as { joinString: string }
  printExact(body.joinString)
}

/** The status plus `isLeader`, which scripts use to find the leader's pid and data dir. */
async function readStatus (dataDir: string, timeoutMs?: number): Promise<StatusAnswer & { isLeader: boolean }> {
  const status = await apiGetChecked<StatusAnswer>(dataDir, '/v1/status', STATUS_FIELDS, timeoutMs)
  return { ...status, isLeader: status.leader === status.nodeId }
}

async function runStatus (opts: { dataDir?: string, json?: boolean, get?: string }): Promise<void> {
  const dataDir = dataDirOf(opts)
  const status = await readStatus(dataDir).catch(async (err: unknown) => await throwRemovedOr(dataDir, err))
  if (opts.get !== undefined) {
    const value = pick(status, opts.get)
    if (value === undefined) throw new CliInputError(`--get: status has no field "${opts.get}" (see \`revoada status --json\`)`)
    printExact(bare(value))
    return
  }
  if (opts.json === true) {
    printJson(status)
    return
  }
  print(statusRows(status).map(([k, v]) => `${k.padEnd(11)}${v}`))
}

/** The rows of `revoada status` without --json: label, value. */
export function statusRows (status: StatusAnswer & { isLeader?: boolean }): Array<[string, string]> {
  const list = (v: string[] | undefined): string => v !== undefined && v.length > 0 ? v.join(' ') : '(none)'
  const rows: Array<[string, string]> = [
    ['NodeId:', status.nodeId],
    ['Cluster:', status.clusterId],
    ['PID:', String(status.pid)],
    ['Data dir:', status.dataDir],
    ['Addresses:', list(status.addresses)],
    ['Peers:', list(status.peers)]
  ]
  if (typeof status.role === 'string') {
    const leader = status.leader === null || status.leader === undefined
      ? '(none known: election in progress or no quorum)'
      : status.isLeader ? `${status.leader} (this node)` : status.leader
    rows.push(
      ['Raft:', status.stopped === true ? `stopped (term ${String(status.term)}): the node is stopping or halted, see its log` : `${status.role}, term ${String(status.term)}`],
      ['Leader:', leader],
      ['Log:', `commit ${String(status.commitIndex)}, applied ${String(status.appliedIndex)}`],
      ['Roles:', list(status.roles)],
      ['Voters:', list(status.voters)],
      ['Learners:', list(status.learners)]
    )
    if (status.elections !== undefined) rows.push(['Elections:', electionsSummary(status.elections)])
    if (status.quorumRecovery !== undefined) rows.push(['Recovery:', recoverySummary(status.quorumRecovery)])
    // What "When things fail" (docs/OPERATIONS.md) sends the operator to status for: shown only while it holds.
    if (status.rejoining === true) rows.push(['Rejoining:', 'raft directory lost: waiting to be re-admitted as a learner; it does not vote'])
    if (status.storage !== undefined && status.storage.writable === false) rows.push(['Storage:', storageSummary(status.storage)])
  }
  return rows
}

/** `status`'s line on a Raft log this node cannot write (a full or failing disk). */
function storageSummary (storage: { error?: string, sinceMs?: number }): string {
  const since = typeof storage.sinceMs === 'number' && Math.abs(storage.sinceMs) <= 8.64e15 ? ` since ${new Date(storage.sinceMs).toISOString()}` : ''
  return `not writable${since}: ${storage.error ?? 'unknown error'}; proposals refused until the disk takes writes`
}

/** `status`'s line on this node's quorum recovery, running or left unfinished (docs/OPERATIONS.md). */
export function recoverySummary (q: { lostVoters: string[], running: boolean }): string {
  const lost = q.lostVoters.length > 0 ? q.lostVoters.join(' ') : '(none)'
  return q.running
    ? `recover-quorum running, lost ${lost}`
    : `unfinished, lost ${lost}: run revoada recover-quorum again to resume it`
}

/** `status`'s line on this node's campaigns, step-downs and stalls since it started, each with its causes. */
export function electionsSummary (e: ElectionCounters): string {
  const part = (count: number, one: string, many: string, by: Record<string, number>): string => {
    const causes = Object.entries(by).filter(([, n]) => n > 0).map(([cause, n]) => `${cause.replaceAll('_', ' ')} ${n}`)
    return `${count} ${count === 1 ? one : many}${causes.length > 0 ? ` (${causes.join(', ')})` : ''}`
  }
  const sum = (by: Record<string, number>): number => Object.values(by).reduce((a, b) => a + b, 0)
  return [
    part(sum(e.campaigns), 'campaign', 'campaigns', e.campaigns),
    part(sum(e.stepDowns), 'step-down', 'step-downs', e.stepDowns),
    `${e.stalls} ${e.stalls === 1 ? 'stall' : 'stalls'} of an election timeout or more`
  ].join(', ')
}

async function runWaitReady (opts: { dataDir?: string, timeout?: string, voters?: string, without?: string }): Promise<void> {
  const dataDir = dataDirOf(opts)
  const timeoutMs = parseSeconds('--timeout', opts.timeout ?? '120') * 1000
  const voters = opts.voters !== undefined ? parseCount('--voters', opts.voters, [1, 7]) : undefined
  if (opts.without !== undefined && voters === undefined) throw new CliInputError('--without needs --voters')
  const without = opts.without !== undefined ? checkNodeId(opts.without) : undefined
  const deadline = steadyNowMs() + timeoutMs
  const watch = nodeProcessWatch(dataDir)
  let last = 'no api.json yet'
  for (;;) {
    // Each request gets what is left of the timeout (at least a poll's worth): an API that accepts and never
    // answers held every one for the client's 30 s, so --timeout 2 took 30 s.
    const leftMs = Math.max(POLL_MS, deadline - steadyNowMs())
    const why = await notReadyBecause(dataDir, voters, without, leftMs).catch(async (err: Error) => {
      // A node that left or was removed never becomes ready: said at once, not after --timeout.
      return await throwRemovedOr(dataDir, err).catch((final: Error) => {
        if (final.name === 'NodeRemovedError') throw final
        return err.message
      })
    })
    if (why === null) return
    last = why
    await watch.check()
    if (steadyNowMs() > deadline) throw new Error(`wait-ready: not ready after ${timeoutMs / 1000} s: ${last}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

/**
 * Ends `wait-ready` early when the data dir's lock shows that no node process is left (probeDataDirLock): a
 * process seen holding it is gone, or the lock names a dead pid and no start has taken it for
 * WAIT_READY_STALE_LOCK_GRACE_MS. NB: a start takes the lock only once loaded, and until then a data dir whose
 * last node was SIGKILLed shows that node's stale lock: the grace keeps such a start from being declared dead.
 * A data dir with no lock file says nothing (no start yet, or one refused before it took the data dir).
 * @throws NodeRemovedError (exit 6) when the gone node left removed.json, else NodeExitedError (exit 8)
 */
function nodeProcessWatch (dataDir: string): { check: () => Promise<void> } {
  let seenPid: number | undefined
  let seenLive = false
  let staleSinceMs: number | undefined
  const gone = async (detail: string): Promise<never> => {
    await assertNotRemoved(dataDir)
    throw new NodeExitedError(dataDir, detail)
  }
  return {
    check: async () => {
      const probe = await probeDataDirLock(dataDir)
      if (probe.state === 'live') {
        seenLive = true
        seenPid = probe.pid ?? seenPid
        staleSinceMs = undefined
        return
      }
      if (seenLive) await gone(`the node process${seenPid !== undefined ? ` (pid ${seenPid})` : ''} that held it has exited before it was ready`)
      if (probe.state === 'none') return
      staleSinceMs ??= steadyNowMs()
      if (steadyNowMs() - staleSinceMs >= WAIT_READY_STALE_LOCK_GRACE_MS) {
        await gone(`its lock names pid ${probe.pid}, which is gone (killed or crashed without its clean-up), and no start has taken it for ${WAIT_READY_STALE_LOCK_GRACE_MS / 1000} s`)
      }
    }
  }
}

/** Null when ready, else why not. */
async function notReadyBecause (dataDir: string, voters: number | undefined, without: string | undefined, timeoutMs: number): Promise<string | null> {
  if (!existsSync(path.join(dataDir, 'api.json'))) {
    if (existsSync(path.join(dataDir, REMOVED_FILE_NAME))) throw new NodeNotRunningError(dataDir, 'api.json not found')
    return 'the node has not written api.json yet'
  }
  const status = await readStatus(dataDir, timeoutMs)
  if (typeof status.role !== 'string') return null
  const inConf = [...(status.voters ?? []), ...(status.learners ?? [])].includes(status.nodeId)
  if (!inConf) return 'not admitted to the Raft configuration yet'
  if (status.leader === null || status.leader === undefined) return 'no leader known'
  if (voters === undefined) return null
  const shape = await apiGetChecked<{ voters: string[] }>(dataDir, '/v1/shape?stale=true', { voters: 'strings' }, timeoutMs)
  if (without !== undefined && shape.voters.includes(without)) return `${without} still holds etcd`
  const members = await readMembers(dataDir, timeoutMs)
  const alive = new Set(members.members.filter((m) => m.health === 'alive' || m.health === 'suspect').map((m) => m.nodeId))
  const live = shape.voters.filter((id) => alive.has(id)).length
  return live >= voters ? null : `${live} live voter(s) of ${voters} wanted`
}

export function phiText (phi: number | null): string {
  // A member not heard from for long has an infinite phi, which JSON carries as null.
  return phi === null ? '∞' : phi.toFixed(1)
}

async function runMembers (opts: { dataDir?: string, json?: boolean }): Promise<void> {
  const dataDir = dataDirOf(opts)
  const answer = await readMembers(dataDir)
  if (opts.json === true) {
    printJson(answer)
    return
  }
  const status = await readStatus(dataDir).catch(() => undefined)
  const rows = [['NODE', 'HEALTH', 'PHI', 'GEN', 'ROLES', 'LABELS', 'NOTE']]
  for (const m of answer.members) {
    const notes = [m.nodeId === status?.leader ? 'leader' : '', m.nodeId === answer.self ? 'this node' : ''].filter((n) => n !== '')
    rows.push([
      m.nodeId, m.health, phiText(m.phi), String(m.generation), m.roles.join(',') || '-',
      Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '-', notes.join(', ')
    ])
  }
  printTable(rows)
}

async function runLeave (opts: { dataDir?: string, json?: boolean }): Promise<void> {
  const dataDir = dataDirOf(opts)
  note('leaving: handing off roles and leaving the voter set…')
  const result = await apiRequestChecked<ProposalAnswer>(dataDir, 'POST', '/v1/leave', undefined, REMOVAL_FIELDS, REMOVAL_TIMEOUT_MS)
  if (opts.json === true) printJson(result)
  if (result.outcome.kind !== 'applied') {
    if (opts.json !== true) print(`leave rejected at index ${result.index}: ${result.outcome.code ?? ''} ${result.outcome.message ?? ''}`)
    process.exitCode = 2
    return
  }
  if (opts.json !== true) printDeparture('this node', result.departure)
  // The node stops itself once it applied its removal; api.json disappears when it has.
  const deadline = steadyNowMs() + 30_000
  while (existsSync(path.join(dataDir, 'api.json')) && steadyNowMs() < deadline) await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  if (opts.json !== true) print(`left the cluster at index ${result.index}; the node ${existsSync(path.join(dataDir, 'api.json')) ? 'is still stopping' : 'stopped'}`)
}
