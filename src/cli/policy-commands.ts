/**
 * @module cli/policy-commands
 * Policy commands of the `revoada` CLI (issue 12): `decisions [--follow]` reads the decision log of the
 * node it asks (any node: records are gossiped by the leader and kept by everyone), `unpin` drops an
 * operator's pin. A `propose` the policy would undo is refused by the node (`Refused`, exit 2).
 */
import type { Command } from 'commander'
import { apiGetChecked, apiRequestChecked } from '../api/index.js'
import type { AnswerFields } from '../api/index.js'
import { note, print, printExact } from './output.js'
import { PROPOSAL_FIELDS, printProposal } from './shape-commands.js'
import type { ProposalAnswer } from './shape-commands.js'
import { checkNodeId, parseRoles } from './validate.js'

const DATA_DIR_HELP = 'data directory (default: $REVOADA_DATA_DIR or ./.revoada)'
/** How long one follow request waits for a new record before asking again (ms). */
const FOLLOW_WAIT_MS = 25_000
/** A follow request's client timeout: the server's wait plus slack. */
const FOLLOW_REQUEST_TIMEOUT_MS = FOLLOW_WAIT_MS + 10_000
/** Pause after a failed follow request (the node restarting) before asking again (ms). */
const FOLLOW_RETRY_MS = 1_000
/** The fields of each decision the CLI prints, with each proposal's and withheld item's (checkAnswer). */
const DECISION_FIELDS: AnswerFields = {
  n: 'number', by: 'string', term: 'number', atMs: 'time', trigger: 'string', truncated: 'number',
  proposals: { list: { command: 'object', reason: 'string', why: 'string', priority: 'string' } },
  withheld: { list: { what: 'string', code: 'string', why: 'string', nodeId: 'string?', retryOn: 'string', retryAtMs: 'time?' } }
}
/** The fields of `GET /v1/decisions` the CLI reads (checkAnswer). */
const DECISIONS_FIELDS: AnswerFields = { node: 'string', lastN: 'number', decisions: { list: DECISION_FIELDS } }

/**
 * The decisions at `apiPath`, the answer's fields and each decision's checked.
 * @throws NodeNotRunningError when the answer is no node's
 */
async function readDecisions (dataDir: string, apiPath: string, timeoutMs?: number): Promise<DecisionsAnswer> {
  return await apiGetChecked<DecisionsAnswer>(dataDir, apiPath, DECISIONS_FIELDS, timeoutMs)
}

function dataDirOf (opts: { dataDir?: string }): string {
  return opts.dataDir ?? process.env.REVOADA_DATA_DIR ?? './.revoada'
}

interface DecisionRow {
  n: number
  by: string
  term: number
  atMs: number
  trigger: string
  truncated: number
  proposals: Array<{ command: Record<string, unknown>, reason: string, why: string, priority: string }>
  withheld: Array<{ what: string, code: string, why: string, nodeId?: string, retryOn: string, retryAtMs?: number }>
}

interface DecisionsAnswer {
  node: string
  leader: boolean
  lastN: number
  decisions: DecisionRow[]
}

const short = (id: string): string => id.length > 12 ? `…${id.slice(-8)}` : id

/** One decision as text: when, who decided (leader and term), then each proposal and each withheld item. */
export function formatDecision (d: DecisionRow): string[] {
  const lines = [`#${d.n} ${new Date(d.atMs).toISOString()} leader ${short(d.by)} term ${d.term} (${d.trigger})`]
  for (const p of d.proposals) lines.push(`  proposed [${p.priority}] ${JSON.stringify(p.command)} (${p.reason}): ${p.why}`)
  for (const w of d.withheld) {
    const retry = w.retryOn === 'time' && w.retryAtMs !== undefined ? `retry at ${new Date(w.retryAtMs).toISOString()}` : `retry on ${w.retryOn}`
    lines.push(`  withheld ${w.what} [gate ${w.code}${w.nodeId !== undefined ? `, node ${short(w.nodeId)}` : ''}, ${retry}]: ${w.why}`)
  }
  if (d.truncated > 0) lines.push(`  (${d.truncated} more item(s) cut)`)
  return lines
}

async function runDecisions (opts: { dataDir?: string, json?: boolean, follow?: boolean }): Promise<void> {
  const dataDir = dataDirOf(opts)
  const show = (d: DecisionRow): void => { if (opts.json === true) printExact(JSON.stringify(d)); else print(formatDecision(d)) }
  const first = await readDecisions(dataDir, '/v1/decisions')
  if (opts.json === true && opts.follow !== true) {
    process.stdout.write(JSON.stringify(first, null, 2) + '\n')
    return
  }
  first.decisions.forEach(show)
  let after = first.lastN
  // NB: followed until interrupted (Ctrl-C); a node restarting in between is waited for, not fatal.
  while (opts.follow === true) {
    try {
      const next = await readDecisions(dataDir, `/v1/decisions?after=${after}&waitMs=${FOLLOW_WAIT_MS}`, FOLLOW_REQUEST_TIMEOUT_MS)
      next.decisions.forEach(show)
      // A node whose log restarted numbering (new data dir) would never pass `after`: start from its end.
      after = next.lastN < after ? next.lastN : Math.max(after, ...next.decisions.map((d) => d.n))
    } catch (err) {
      note(`${(err as Error).message}; retrying`)
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_RETRY_MS))
    }
  }
}

/**
 * Printed as `propose` prints its result, JSON only with `--json`; the node id and roles are checked before any
 * request (exit 3). Before, the answer was always printed as one line of JSON, and a bad id or role was sent.
 */
async function runUnpin (nodeId: string, opts: { dataDir?: string, roles?: string, json?: boolean }): Promise<void> {
  checkNodeId(nodeId)
  const roles = opts.roles !== undefined ? parseRoles(opts.roles) : undefined
  const body = { kind: 'unpin', nodeId, ...(roles !== undefined ? { roles } : {}) }
  const result = await apiRequestChecked<ProposalAnswer>(dataDirOf(opts), 'POST', '/v1/proposals', body, PROPOSAL_FIELDS, 30_000)
  printProposal(`unpin ${nodeId}`, result, opts.json)
}

export function registerPolicyCommands (program: Command): void {
  program.command('decisions')
    .description('what the policy engine proposed or withheld, by which gate, and when it retries (any node answers)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--follow', 'keep printing new decisions as they arrive')
    .option('--json', 'print JSON (one record per line with --follow)')
    .action(runDecisions)
  program.command('unpin')
    .description('drop the operator\'s pins on a node (all, or --roles): the policy manages those roles again')
    .argument('<nodeId>', 'the pinned node')
    .option('--roles <r1,r2>', 'only these roles: api-server,etcd,scheduler,controller-manager')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print the result as JSON')
    .action(runUnpin)
}
