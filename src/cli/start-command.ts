/**
 * @module cli/start-command
 * `revoada start`: checks what it can before touching the data dir (a data dir that is a file, a bad join
 * string, taken ports), runs the node in the foreground, reports join progress, and stops on SIGINT/SIGTERM
 * (exit 0) or when the node asks (it left: 0; it was removed: 6; it met a protocol level above its build's: 7,
 * also when its own log holds one at start: main.ts). Whatever a failed start created in the data dir is removed
 * again, so a failure leaves no half-made cluster behind (issue 11 item 7). `revoada recover-quorum` runs the same
 * start in quorum recovery: the node stops on its own once it is the only voter (0), or gives up (1).
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import { Option } from 'commander'
import type { Config, ConfigInput } from '../config/index.js'
import { LOG_FORMATS, LOG_LEVELS } from '../log/levels.js'
import type { LogFormat } from '../log/levels.js'
import type { Logger } from '../log/index.js'
import type { RevoadaNode } from '../node/index.js'
import type { ConsensusService } from '../consensus/consensus-service.js'
import { ApiBindRefusedError, ApiPortInUseError } from '../api/errors.js'
import { parseHostPort } from './args.js'
import { CliInputError, parseSeconds } from './validate.js'
import { note, print } from './output.js'
import { DATA_DIR_HELP } from './common.js'
import { PROTOCOL_LEVEL } from '../consensus/shape/core/protocol.js'
import { steadyNowMs } from '../util/clock.js'
import { LOCK_FILE_NAME } from '../node/data-dir-lock.js'
import { CLUSTER_FILE_NAME } from '../net/constants.js'

/** How long a first join may take before `start` gives up (default of `--join-timeout`). */
const JOIN_TIMEOUT_S_DEFAULT = 120
const JOIN_POLL_MS = 250
/** How often a joiner not yet admitted compares the members' advertised protocol levels with its own. */
const LEVEL_CHECK_MS = 1000

interface StartOptions {
  dataDir?: string
  listen?: string[]
  join?: string
  api?: string
  config?: string
  logLevel?: string
  logFormat?: string
  logFile?: string
  joinTimeout?: string
  forceNewCluster?: boolean
  /** Set by `recover-quorum`, never by a flag of `start`. */
  recoverQuorum?: boolean
}

/** A `--listen` address whose TCP port another process holds. */
export class ListenAddressInUseError extends Error {
  static override readonly name = 'ListenAddressInUseError'
  constructor (addr: string) {
    super(`the listen address ${addr} is already in use; pick another --listen (tcp/0 = any free port)`)
    this.name = 'ListenAddressInUseError'
  }
}

/** A first join did not complete in time. */
export class JoinTimeoutError extends Error {
  static override readonly name = 'JoinTimeoutError'
  constructor (message: string) {
    super(message)
    this.name = 'JoinTimeoutError'
  }
}

function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

export function registerStartCommand (program: Command): void {
  program.command('start')
    .description('start a node in the foreground (creates identity and cluster on first start)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--listen <multiaddr>', 'libp2p listen address, repeatable (default: /ip4/0.0.0.0/tcp/4101, or a free port if taken)', collect)
    .option('--join <join-string>', 'join the cluster of this join string (from `revoada join-string` on a member)')
    .option('--join-timeout <seconds>', `give up a first join after this long (default ${JOIN_TIMEOUT_S_DEFAULT})`)
    .option('--api <host:port>', 'admin API bind address (default: 127.0.0.1:0 = a free loopback port)')
    .option('--config <file>', 'JSON config file (overridden by REVOADA_* env, then by flags)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'log lines: pretty (default on a terminal) or json (default otherwise)').choices(LOG_FORMATS))
    .option('--log-file <file>', 'append log lines to this file instead of stderr (JSON unless --log-format pretty; SIGHUP reopens it)')
    .option('--force-new-cluster', 'the raft directory was lost and every other member is gone: bootstrap a new cluster from this node')
    .action(runStart)
  // A command of its own, not a flag of `start`: left in a service unit, a flag would repeat it at every start.
  program.command('recover-quorum')
    .description('UNSAFE, when a majority of the voters is gone for good: make this stopped voter the only voter, keeping its log, then exit')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--listen <multiaddr>', 'libp2p listen address, repeatable (default as for start)', collect)
    .option('--api <host:port>', 'admin API bind address (default: 127.0.0.1:0 = a free loopback port)')
    .option('--config <file>', 'JSON config file (overridden by REVOADA_* env, then by flags)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'log lines: pretty (default on a terminal) or json (default otherwise)').choices(LOG_FORMATS))
    .option('--log-file <file>', 'append log lines to this file instead of stderr (JSON unless --log-format pretty; SIGHUP reopens it)')
    .action(async (opts: StartOptions) => { await runStart({ ...opts, recoverQuorum: true }) })
}

async function runStart (opts: StartOptions): Promise<void> {
  if (opts.join !== undefined && opts.join.trim() === '') {
    throw new CliInputError('--join: the join string is empty (did `revoada join-string` run before the first node was up? `revoada wait-ready` waits for it)')
  }
  const joinTimeoutS = opts.joinTimeout !== undefined ? parseSeconds('--join-timeout', opts.joinTimeout) : JOIN_TIMEOUT_S_DEFAULT
  const flags: ConfigInput = {
    dataDir: opts.dataDir,
    listen: opts.listen,
    join: opts.join,
    ...(opts.forceNewCluster === true ? { forceNewCluster: true } : {}),
    logLevel: opts.logLevel as ConfigInput['logLevel'],
    api: opts.api !== undefined ? parseHostPort(opts.api) : undefined
  }
  // Loaded here, not at the top: `--help` and the other commands need none of it.
  const { loadConfig } = await import('../config/index.js')
  const config = loadConfig({ file: opts.config, env: process.env, flags })
  await preflight(config)
  const log = await makeLogger(config, opts)
  // The node's stdout (its start lines) and stderr (notes) may be a file on a disk that fills: never fatal.
  const { guardStdio } = await import('../log/stdio-guard.js')
  guardStdio()
  const before = await entriesOf(config.dataDir)
  // Loaded lazily: libp2p takes most of a second to import, which `status`/`id`/`--help` need not pay.
  const { startNode } = await import('../node/index.js')
  const { defaultServices } = await import('../node/services.js')
  let node: RevoadaNode
  const { mainThreadPriority } = await import('../util/thread-priority.js')
  // This process is one node: its event loop's thread is raised while it votes (docs/CONSENSUS.md).
  const services = defaultServices({ policy: config.policy?.enabled === false ? false : {}, materializer: config.materializer?.enabled !== false, threadPriority: mainThreadPriority })
  const consensus = services.find((s): s is ConsensusService => s.name === 'consensus')
  // Before the start: its API answers and api.json appears before startNode returns, and whoever waits for
  // them or for the banner (a script, the build's code-cache step) may send SIGTERM at once. One that came
  // before the handler ended the process at once, without a graceful stop or its exit handlers, and left
  // api.json (test/cli/signal-at-api-file.test.ts).
  const signals = installSignalHandlers()
  // Removed while the node still holds the data dir's lock (beforeUnlock): what a failed start created, and
  // what a first join stopped or given up before admission created. NB: refused the lock, this start made
  // nothing and the hook never runs: what appeared since `before` is the holder's (a node in its first start
  // writes identity.key, cluster.json and raft/ meanwhile), never to be removed.
  unfinishedStart = { dir: config.dataDir, before }
  const beforeUnlock = async (): Promise<void> => { if (unfinishedStart !== undefined) await removeCreated(unfinishedStart.dir, unfinishedStart.before) }
  try {
    node = await startNode({ config, log, services, beforeUnlock, ...(opts.recoverQuorum === true ? { recoverQuorum: true } : {}) })
  } catch (err) {
    if ((err as Error).name !== 'DataDirInUseError') await removeDirMadeByStart(config.dataDir, before)
    throw translateStartError(err)
  }
  // Before a signal that came while starting stops it (signals.started): this node is made.
  const joining = config.join !== undefined && !inConfiguration(node, consensus)
  // A first join the leader admitted while the services started (a quiet cluster admits within ~100 ms) has no
  // progress left to follow, but is told as one that waited: before, it printed no `joined:` line at all.
  const admittedWhileStarting = !joining && config.join !== undefined && before?.has(CLUSTER_FILE_NAME) !== true
  if (!joining) unfinishedStart = undefined
  signals.started(node)
  if (opts.recoverQuorum === true) note(`recovering a lost quorum from ${node.nodeId}: it becomes the only voter, keeping its log; the node stops when done`)
  else printStarted(node)
  if (admittedWhileStarting) noteJoined(node)
  void node.stopRequested.then(async (request) => {
    note(request.message)
    await stopAndExit(node, request.exitCode)
  })
  if (joining) {
    try {
      await followJoin(node, consensus, joinTimeoutS * 1000, config.protocolLevel ?? PROTOCOL_LEVEL)
      unfinishedStart = undefined
    } catch (err) {
      note((err as Error).message)
      // A first join that never happened leaves nothing (removed by beforeUnlock): the next attempt starts clean.
      await node.stop()
      await removeDirMadeByStart(config.dataDir, before)
      process.exit(1)
    }
  }
}

/** What can be checked without writing anything. */
async function preflight (config: Config): Promise<void> {
  const { bindProbe } = await import('../node/listen.js')
  const { isLoopbackHost } = await import('../api/server.js')
  const { decodeJoinString } = await import('../net/join-string.js')
  const stat = await fs.stat(config.dataDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    // Below a file (ENOTDIR), a symlink loop, a name too long: nothing can be created there. Said here, the
    // start's clean-up of what it made never meets the path (its bare fs error covered the start's own).
    throw new CliInputError(`--data-dir ${config.dataDir} cannot be used: ${err.code ?? err.message}`)
  })
  if (stat !== undefined && !stat.isDirectory()) throw new CliInputError(`--data-dir ${config.dataDir} exists and is not a directory`)
  if (config.join !== undefined) decodeJoinString(config.join)
  for (const addr of config.listen ?? []) {
    const m = /^\/ip([46])\/([^/]+)\/tcp\/(\d+)$/.exec(addr)
    if (m === null || Number(m[3]) === 0) continue
    const probe = await bindProbe(m[2] as string, Number(m[3]))
    if (probe === 'in-use') throw new ListenAddressInUseError(addr)
    if (probe !== 'free') throw new CliInputError(`--listen ${addr} cannot be bound on this host (${bindHint(probe)})`)
  }
  // Refused before it is probed: a non-loopback host was said to be in use when it was not this host's.
  if (!config.api.allowNonLoopback && !isLoopbackHost(config.api.host)) throw new ApiBindRefusedError(config.api.host)
  if (config.api.port === 0) return
  const probe = await bindProbe(config.api.host, config.api.port)
  if (probe === 'in-use') throw new ApiPortInUseError(config.api.host, config.api.port)
  if (probe !== 'free') throw new CliInputError(`--api ${config.api.host}:${config.api.port} cannot be bound on this host (${bindHint(probe)})`)
}

/** A bind error code with what it means for the operator. */
function bindHint (code: string): string {
  if (code === 'EADDRNOTAVAIL') return `${code}: not an address of this host`
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${code}: the host name does not resolve`
  return code
}

async function makeLogger (config: Config, opts: StartOptions): Promise<Logger> {
  const { createLogger } = await import('../log/index.js')
  if (opts.logFile !== undefined) {
    const { LogFileSink } = await import('../log/file-sink.js')
    const format = (opts.logFormat as LogFormat | undefined) ?? 'json'
    let sink: InstanceType<typeof LogFileSink>
    try {
      sink = new LogFileSink(opts.logFile, format)
    } catch (err) {
      // A directory, a missing directory, no permission: the operator's path, said with the flag (exit 3).
      throw new CliInputError(`--log-file ${opts.logFile} cannot be opened for appending: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    // logrotate's `postrotate kill -HUP`: the node writes to a new file at the path. Without --log-file SIGHUP
    // keeps Node's default (the node ends), which `nohup` relies on ignoring.
    process.on('SIGHUP', () => { sink.reopen() })
    // The sink formats its own lines; pino's lines are formatted on their way to it.
    return createLogger(config.logLevel, sink, format)
  }
  const format = (opts.logFormat as LogFormat | undefined) ?? (process.stderr.isTTY ? 'pretty' : 'json')
  return createLogger(config.logLevel, process.stderr, format)
}

/** Names in the data dir before the start (undefined: the dir did not exist). */
async function entriesOf (dir: string): Promise<Set<string> | undefined> {
  try {
    return new Set(await fs.readdir(dir))
  } catch {
    return undefined
  }
}

/**
 * Removes what appeared in `dir` since `before` (everything when it did not exist), run while the start holds
 * the data dir's lock. The lock file stays for the lock's release to remove: gone before, a second start from
 * another network namespace would not see the lock (node/data-dir-lock.ts).
 */
async function removeCreated (dir: string, before: Set<string> | undefined): Promise<void> {
  for (const name of await fs.readdir(dir).catch(() => [])) {
    if (name !== LOCK_FILE_NAME && before?.has(name) !== true) await fs.rm(path.join(dir, name), { recursive: true, force: true })
  }
}

/**
 * The data dir itself when this start made it (`before` undefined), after the lock's release: only if empty, as
 * a start that took the lock meanwhile has written its lock file there.
 */
async function removeDirMadeByStart (dir: string, before: Set<string> | undefined): Promise<void> {
  if (before === undefined) await fs.rmdir(dir).catch(() => {})
}

function translateStartError (err: unknown): unknown {
  const e = err as Error & { code?: string, path?: string }
  if (e.name === 'UnsupportedListenAddressesError' || e.code === 'EADDRINUSE') {
    return new ListenAddressInUseError(/listen on ([^\s]+)/.exec(e.message)?.[1] ?? 'given with --listen')
  }
  if (e.code === 'EEXIST' || e.code === 'ENOTDIR') return new CliInputError(`the data dir path ${e.path ?? ''} is not a directory`)
  return err
}

function printStarted (node: RevoadaNode): void {
  const status = node.status()
  const lines = [
    `NodeId:      ${status.nodeId}`,
    `Cluster:     ${status.clusterId}`,
    `PID:         ${status.pid}`,
    `Data dir:    ${status.dataDir}`,
    ...status.addresses.map((a, i) => `${i === 0 ? 'Addresses:  ' : '            '} ${a}`),
    `Admin API:   ${node.apiUrl}`,
    `Join string (secret, gives cluster membership): ${node.joinString()}`
  ]
  print(lines)
}

/**
 * True once this node is a voter or learner. Read from the Raft configuration alone: it is polled every
 * JOIN_POLL_MS while joining, and the whole status (every service's fields, the shape's CID) cost a joiner
 * half its CPU while 25 nodes formed a cluster on 2 cores (issue 16, docs/bench/scale.md).
 */
function inConfiguration (node: RevoadaNode, consensus: ConsensusService | undefined): boolean {
  const conf = consensus?.started === true ? consensus.node.configuration() : undefined
  return conf !== undefined && (conf.voters.includes(node.nodeId) || conf.learners.includes(node.nodeId))
}

/**
 * What a joiner can tell of the cluster's protocol level (docs/OPERATIONS.md, "Rolling upgrades"): the leader
 * admits no node below the cluster's level, and the cluster's level is at most the lowest level its members
 * advertised when it was raised. The joiner has applied no log, so it cannot read the level itself; it hears
 * the members' heartbeats. When every peer it heard (`peerLevels`, itself excluded) advertises a level above
 * its own (`own`), the cluster very probably runs above it: returns that lowest peer level, else undefined
 * (some peer is at or below this build's level, or none was heard — then the leader's log is the place).
 */
export function levelAboveOwn (own: number, peerLevels: readonly number[]): number | undefined {
  if (peerLevels.length === 0) return undefined
  const lowest = Math.min(...peerLevels)
  return lowest > own ? lowest : undefined
}

/** The hint a joiner prints when its peers' levels are all above its own (see levelAboveOwn). */
export function levelHint (own: number, peers: number): string {
  return `the cluster's members advertise protocol level ${peers} or more, above this build's ${own}: the leader admits no node below the cluster's level (its log names this node); upgrade revoada here, then start again`
}

/**
 * When a first join gives up (`--join-timeout`, `timeoutMs`), in two stages: `timeoutMs` after the start while no
 * cluster peer has answered (`connectedAtMs` undefined: a wrong or unreachable join string fails as fast as
 * ever), and `timeoutMs` after the first connection once one has. The second stage is the leader's: a joiner
 * that reached the cluster late — a seed starved by a fleet of 50 booting together on 2 cores accepted half
 * the joiners 75–90 s after they started (docs/bench/scale.md, "50 nodes: which step the joiners give up at")
 * — gets the whole timeout to be admitted instead of what the first stage left of it. Pure.
 */
export function joinDeadlineMs (startedAtMs: number, connectedAtMs: number | undefined, timeoutMs: number): number {
  return (connectedAtMs ?? startedAtMs) + timeoutMs
}

/**
 * Prints join progress on stderr until the node is in the Raft configuration; throws once `joinDeadlineMs`
 * passes (no peer within `timeoutMs` of the start, or not admitted within `timeoutMs` of the first connection).
 * The deadline is on the steady clock: an edge device without a real-time clock boots with a wrong date, and
 * NTP stepping it forward by months during the join must not fail the join at once, nor a step back keep it
 * waiting past its timeout.
 * @throws JoinTimeoutError once the deadline passes
 */
export async function followJoin (node: RevoadaNode, consensus: ConsensusService | undefined, timeoutMs: number, own: number): Promise<void> {
  const startedAt = steadyNowMs()
  let connectedAt: number | undefined
  note('joining: waiting for a cluster peer…')
  let connected = false
  let above: number | undefined
  // The membership view costs more than the configuration: read it once a second, not on every poll.
  let levelCheckAtMs = 0
  while (!inConfiguration(node, consensus)) {
    const peers = node.net.getPeers()
    if (!connected && peers.length > 0) {
      connected = true
      connectedAt = steadyNowMs()
      note(`joining: connected to ${peers.length} cluster peer(s); waiting for the leader to admit this node…`)
    }
    if (connected && above === undefined && consensus?.started === true && steadyNowMs() >= levelCheckAtMs) {
      levelCheckAtMs = steadyNowMs() + LEVEL_CHECK_MS
      above = levelAboveOwn(own, [...consensus.advertisedLevels()].filter(([id]) => id !== node.nodeId).map(([, level]) => level))
      if (above !== undefined) note(`joining: ${levelHint(own, above)}`)
    }
    if (steadyNowMs() > joinDeadlineMs(startedAt, connectedAt, timeoutMs)) {
      throw new JoinTimeoutError(!connected
        ? `join failed: no cluster peer answered within ${timeoutMs / 1000} s at the join string's addresses (are they up and reachable? is the join string current?)`
        : above !== undefined
          ? `join failed: not admitted within ${timeoutMs / 1000} s of connecting: ${levelHint(own, above)}`
          : `join failed: connected to the cluster but not admitted within ${timeoutMs / 1000} s of connecting (is there a leader? check \`revoada status\` on a member; a leader admits no node below the cluster's protocol level, \`protocol.cluster\` there, and says so in its log)`)
    }
    await new Promise((resolve) => setTimeout(resolve, JOIN_POLL_MS))
  }
  noteJoined(node)
}

/** The line that ends a first join's progress on stderr. */
function noteJoined (node: RevoadaNode): void {
  const s = node.status()
  note(`joined: admitted as ${(s.voters as string[]).includes(s.nodeId) ? 'voter' : 'learner'} at index ${String(s.commitIndex)}`)
}

let stopping = false
/**
 * Set until the node is made and, with a first join, admitted: its stop then removes what the start created, as
 * a join that timed out does. Left, it was a data dir of a cluster the node never joined (ClusterMismatchError
 * at the next `--join`).
 */
let unfinishedStart: { dir: string, before: Set<string> | undefined } | undefined

async function stopAndExit (node: RevoadaNode, code: number): Promise<void> {
  if (stopping) return
  stopping = true
  try {
    const unfinished = unfinishedStart
    await node.stop()
    if (unfinished !== undefined) {
      await removeDirMadeByStart(unfinished.dir, unfinished.before)
      note('stopped before this node was admitted: removed what this start created; the next start joins afresh')
    }
    process.exit(code)
  } catch (err) {
    note(`error while stopping: ${(err as Error).message}`)
    process.exit(1)
  }
}

/**
 * A second signal this soon after the first is the same Ctrl-C delivered twice: under `npm start` the terminal
 * signals the whole process group and npm forwards its own copy to the child.
 */
const DUPLICATE_SIGNAL_WINDOW_MS = 1000

/** What a process signal does, given the signals before it (`firstAtMs`: the first one's time, if any). */
export type SignalVerdict = 'duplicate' | 'stop' | 'stopping' | 'exit-now'

/**
 * The verdict on a SIGINT or SIGTERM at `nowMs` (steady clock): the first stops the node gracefully, or lets the
 * stop the node asked for itself (`stopping`: it left, was removed…) go on; one within DUPLICATE_SIGNAL_WINDOW_MS
 * of the first is its duplicate; a later one exits at once.
 */
export function signalVerdict (state: { firstAtMs: number | undefined, stopping: boolean }, nowMs: number): SignalVerdict {
  // NB: a running stop is no signal: taken for one, the operator's first signal cut it short (exit 1).
  if (state.firstAtMs === undefined) return state.stopping ? 'stopping' : 'stop'
  return nowMs - state.firstAtMs < DUPLICATE_SIGNAL_WINDOW_MS ? 'duplicate' : 'exit-now'
}

/**
 * SIGINT and SIGTERM stop the node gracefully; one that comes while it starts stops it once started (`started`),
 * and a second, later than DUPLICATE_SIGNAL_WINDOW_MS, exits at once.
 */
function installSignalHandlers (): { started: (node: RevoadaNode) => void } {
  let running: RevoadaNode | undefined
  let firstAtMs: number | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    // Steady: after a wall-clock step back a real second Ctrl-C would fall inside the window for the step's size.
    const nowMs = steadyNowMs()
    const verdict = signalVerdict({ firstAtMs, stopping }, nowMs)
    if (verdict === 'duplicate') return
    firstAtMs = nowMs
    if (verdict === 'exit-now') {
      note(`second ${signal}, exiting now`)
      process.exit(1)
    }
    if (verdict === 'stopping') note(`${signal} while stopping: the stop goes on (again to exit now)`)
    else if (running !== undefined) void stopAndExit(running, 0)
    else note(`${signal} while starting: the node stops once started (again to exit now)`)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    started: (node) => {
      running = node
      if (firstAtMs !== undefined) void stopAndExit(node, 0)
    }
  }
}
