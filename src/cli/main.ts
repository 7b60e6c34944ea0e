#!/usr/bin/env node
/**
 * @module cli/main
 * The `revoada` command (issue 2 item 7). `start` runs a node in the foreground until SIGINT/SIGTERM, then
 * stops gracefully and exits 0. `id`, `join-string` and `status` find the running node through
 * `<data-dir>/api.json`. Command output goes to stdout; logs (JSON, pino) go to stderr.
 */
import '../polyfill.js'
import path from 'node:path'
import { Command, Option } from 'commander'
import { loadConfig } from '../config/index.js'
import type { ConfigInput } from '../config/index.js'
import { LOG_LEVELS } from '../log/index.js'
import type { NodeStatus, RevoadaNode } from '../node/index.js'
import { apiGet, apiRequest } from '../api/index.js'
import { IDENTITY_FILE_NAME, readIdentity } from '../identity/index.js'
import { parseHostPort } from './args.js'
import { registerContentCommands } from './content-commands.js'

const DATA_DIR_HELP = 'data directory (default: $REVOADA_DATA_DIR or ./.revoada)'

function dataDirOf (opts: { dataDir?: string }): string {
  return opts.dataDir ?? process.env.REVOADA_DATA_DIR ?? './.revoada'
}

interface StartOptions {
  dataDir?: string
  listen?: string[]
  join?: string
  api?: string
  config?: string
  logLevel?: string
}

async function runStart (opts: StartOptions): Promise<void> {
  const flags: ConfigInput = {
    dataDir: opts.dataDir,
    listen: opts.listen,
    join: opts.join,
    logLevel: opts.logLevel as ConfigInput['logLevel'],
    api: opts.api !== undefined ? parseHostPort(opts.api) : undefined
  }
  const config = loadConfig({ file: opts.config, env: process.env, flags })
  // Loaded lazily: libp2p takes most of a second to import, which `status`/`id`/`--help` need not pay.
  const { startNode } = await import('../node/index.js')
  const { defaultServices } = await import('../node/services.js')
  const node = await startNode({ config, services: defaultServices({ policy: config.policy?.enabled === false ? false : {} }) })
  printStarted(node)
  installSignalHandlers(node)
}

function printStarted (node: RevoadaNode): void {
  const status = node.status()
  const lines = [
    `NodeId:      ${status.nodeId}`,
    `Cluster:     ${status.clusterId}`,
    ...status.addresses.map((a, i) => `${i === 0 ? 'Addresses:  ' : '            '} ${a}`),
    `Admin API:   ${node.apiUrl}`,
    `Join string (secret, gives cluster membership): ${node.joinString()}`
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

function installSignalHandlers (node: RevoadaNode): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`revoada: second ${signal}, exiting now\n`)
      process.exit(1)
    }
    stopping = true
    node.stop().then(() => { process.exit(0) }, (err: unknown) => {
      process.stderr.write(`revoada: error while stopping: ${(err as Error).message}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}

async function runId (opts: { dataDir?: string }): Promise<void> {
  const dataDir = dataDirOf(opts)
  try {
    const status = await apiGet(dataDir, '/v1/status') as NodeStatus
    process.stdout.write(status.nodeId + '\n')
  } catch (err) {
    // The NodeId is also readable offline from the identity file, which needs no running node.
    const identity = await readIdentity(path.join(dataDir, IDENTITY_FILE_NAME))
    if (identity === undefined) throw err
    process.stdout.write(identity.nodeId + '\n')
  }
}

async function runJoinString (opts: { dataDir?: string }): Promise<void> {
  const body = await apiGet(dataDirOf(opts), '/v1/join-string') as { joinString: string }
  process.stdout.write(body.joinString + '\n')
}

async function runStatus (opts: { dataDir?: string, json?: boolean }): Promise<void> {
  const status = await apiGet(dataDirOf(opts), '/v1/status') as NodeStatus
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(status, null, 2) + '\n')
    return
  }
  const lines = [
    `NodeId:    ${status.nodeId}`,
    `Cluster:   ${status.clusterId}`,
    `Addresses: ${status.addresses.join(' ')}`,
    `Peers:     ${status.peers.length === 0 ? '(none)' : status.peers.join(' ')}`
  ]
  if (typeof status.role === 'string') {
    const list = (v: unknown): string => Array.isArray(v) && v.length > 0 ? v.join(' ') : '(none)'
    lines.push(
      `Raft:      ${String(status.role)}, term ${String(status.term)}, leader ${String(status.leader ?? '(unknown)')}`,
      `Log:       commit ${String(status.commitIndex)}, applied ${String(status.appliedIndex)}`,
      `Roles:     ${list(status.roles)}`,
      `Voters:    ${list(status.voters)}`,
      `Learners:  ${list(status.learners)}`
    )
  }
  process.stdout.write(lines.join('\n') + '\n')
}

interface ShapeAnswer {
  cid: string
  appliedIndex: number
  target: Record<string, number>
  voters: string[]
  members: Array<{ nodeId: string, roles: string[] }>
}

async function runShape (opts: { dataDir?: string, json?: boolean, stale?: boolean }): Promise<void> {
  const shape = await apiGet(dataDirOf(opts), `/v1/shape${opts.stale === true ? '?stale=true' : ''}`) as ShapeAnswer
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(shape, null, 2) + '\n')
    return
  }
  const lines = [
    `Shape ${shape.cid} at index ${shape.appliedIndex}`,
    `Target:  ${Object.entries(shape.target).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    `Voters:  ${shape.voters.join(' ')}`,
    ...shape.members.map((m) => `  ${m.nodeId}  ${m.roles.join(',')}`)
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

async function runPropose (kind: string, nodeId: string, opts: { dataDir?: string, roles?: string, reason?: string, json?: boolean }): Promise<void> {
  const body = {
    kind,
    nodeId,
    ...(opts.roles !== undefined ? { roles: opts.roles.split(',').map((r) => r.trim()).filter((r) => r !== '') } : {}),
    ...(opts.reason !== undefined ? { reason: opts.reason } : {})
  }
  const result = await apiRequest(dataDirOf(opts), 'POST', '/v1/proposals', body, 30_000) as { outcome: { kind: string, code?: string, message?: string }, index: number, term: number, cid: string }
  process.stdout.write(JSON.stringify(result, null, opts.json === true ? 2 : undefined) + '\n')
  if (result.outcome.kind !== 'applied') process.exitCode = 2
}

async function runTargetSet (preset: string | undefined, opts: { dataDir?: string, apiServers?: string, etcd?: string, schedulers?: string, controllerManagers?: string, minWorkers?: string }): Promise<void> {
  let body: unknown
  if (preset !== undefined) {
    body = { preset }
  } else {
    const shape = await apiGet(dataDirOf(opts), '/v1/shape') as ShapeAnswer
    const pick = (flag: string | undefined, current: number | undefined): number => flag !== undefined ? Number(flag) : (current ?? 0)
    body = {
      target: {
        apiServers: pick(opts.apiServers, shape.target.apiServers),
        etcd: pick(opts.etcd, shape.target.etcd),
        schedulers: pick(opts.schedulers, shape.target.schedulers),
        controllerManagers: pick(opts.controllerManagers, shape.target.controllerManagers),
        minWorkers: pick(opts.minWorkers, shape.target.minWorkers)
      }
    }
  }
  const result = await apiRequest(dataDirOf(opts), 'POST', '/v1/target', body, 30_000) as { outcome: { kind: string } }
  process.stdout.write(JSON.stringify(result) + '\n')
  if (result.outcome.kind !== 'applied') process.exitCode = 2
}

interface MembersAnswer {
  self: string
  members: Array<{ nodeId: string, health: string, generation: number, roles: string[], labels: Record<string, string>, phi: number }>
}

async function runMembers (opts: { dataDir?: string, json?: boolean }): Promise<void> {
  const answer = await apiGet(dataDirOf(opts), '/v1/members') as MembersAnswer
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(answer, null, 2) + '\n')
    return
  }
  const lines = answer.members.map((m) => [
    m.nodeId === answer.self ? '*' : ' ', m.nodeId, m.health.padEnd(7), `gen ${m.generation}`, `phi ${m.phi.toFixed(1)}`,
    m.roles.join(',') || '-', Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(',')
  ].join('  '))
  process.stdout.write(lines.join('\n') + '\n')
}

interface DecisionsAnswer {
  leader: boolean
  decisions: Array<{ atMs: number, trigger: string, proposals: Array<{ policy: string, command: Record<string, unknown>, reason: string, why: string }>, withheld: Array<{ policy: string, what: string, code: string, why: string }> }>
}

async function runDecisions (opts: { dataDir?: string, json?: boolean }): Promise<void> {
  const answer = await apiGet(dataDirOf(opts), '/v1/decisions') as DecisionsAnswer
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(answer, null, 2) + '\n')
    return
  }
  if (!answer.leader) process.stdout.write('(this node is not the leader: the policy engine runs on the leader only)\n')
  for (const d of answer.decisions) {
    process.stdout.write(`${new Date(d.atMs).toISOString()} ${d.trigger}\n`)
    for (const p of d.proposals) process.stdout.write(`  proposed ${JSON.stringify(p.command)} (${p.reason}): ${p.why}\n`)
    for (const w of d.withheld) process.stdout.write(`  withheld ${w.what} [${w.code}]: ${w.why}\n`)
  }
}

function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** Builds the command tree . */
function buildProgram (): Command {
  const program = new Command('revoada')
    .description('A peer node that decides by Raft consensus which machines hold Kubernetes control-plane roles')
    .showHelpAfterError()
  program.command('start')
    .description('start a node in the foreground (creates identity and cluster on first start)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--listen <multiaddr>', 'libp2p listen address, repeatable (default: /ip4/0.0.0.0/tcp/4101, or a free port if taken)', collect)
    .option('--join <join-string>', 'join the cluster of this join string (from `revoada join-string` on a member)')
    .option('--api <host:port>', 'admin API bind address (default: 127.0.0.1:0 = a free loopback port)')
    .option('--config <file>', 'JSON config file (overridden by REVOADA_* env, then by flags)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .action(runStart)
  program.command('id')
    .description('print this node\'s NodeId (libp2p PeerId)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(runId)
  program.command('join-string')
    .description('print the one-line join string of the running node (secret: it carries the cluster key)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(runJoinString)
  program.command('status')
    .description('show the running node\'s status')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print the full status as JSON')
    .action(runStatus)
  program.command('members')
    .description('show the membership view: every member with its health (alive, suspect, dead, left) and state')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .action(runMembers)
  program.command('decisions')
    .description('what the policy engine proposed or withheld, and why (ask the leader)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .action(runDecisions)
  program.command('shape')
    .description('show the committed MeshShape: who holds which role (linearizable read by default)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .option('--stale', 'answer from this node\'s applied state without a ReadIndex round')
    .action(runShape)
  program.command('propose')
    .description('propose a role change through Raft from this node and print the typed result (exit 2 if rejected)')
    .argument('<kind>', 'promote | demote | quarantine | restore | remove-member')
    .argument('<nodeId>', 'the node to change')
    .option('--roles <r1,r2>', 'for promote/demote: api-server,etcd,scheduler,controller-manager')
    .option('--reason <reason>', 'replacing-failed | scaling-up | scaling-down | health-degraded | operator | rebalance (default operator)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'pretty-print')
    .action(runPropose)
  const target = program.command('target').description('the target topology the policies keep')
  target.command('set')
    .description('set the target: a preset (homelab | ha-three) or per-role counts')
    .argument('[preset]', 'homelab | ha-three')
    .option('--api-servers <n>').option('--etcd <n>').option('--schedulers <n>')
    .option('--controller-managers <n>').option('--min-workers <n>')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(runTargetSet)
  registerContentCommands(program)
  return program
}

buildProgram().parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error
  process.stderr.write(`revoada: ${e.name !== 'Error' && e.name !== undefined ? `${e.name}: ` : ''}${e.message ?? String(err)}\n`)
  process.exit(1)
})
