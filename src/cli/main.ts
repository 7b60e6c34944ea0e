#!/usr/bin/env -S node --max-semi-space-size=1 --interrupt-budget=1048576
/**
 * @module cli/main
 * The `revoada` command (issue 2 item 7, issue 11). `start` runs a node in the foreground (cli/start-command.ts);
 * the other commands find the running node through `<data-dir>/api.json`. Command output goes to stdout;
 * logs, progress and errors to stderr. Exit codes (docs/OPERATIONS.md): 0 ok, 1 operating error, 2 rejected or
 * refused, 3 invalid input (caught before any request, or a 400), 4 unauthorized, 5 not found, 6 the node was
 * removed from its cluster, 7 the cluster runs a protocol level this build does not know, 8 `wait-ready` found
 * the node's process gone.
 */
import '../polyfill.js'
import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { API_ERROR_CODES, EXIT_CODE_NODE_EXITED, EXIT_CODES, isApiErrorCode } from '../api/errors.js'
import { registerStartCommand } from './start-command.js'
import { registerNodeCommands } from './node-commands.js'
import { registerShapeCommands } from './shape-commands.js'
import { registerMaterializerCommands } from './materializer-commands.js'
import { registerPolicyCommands } from './policy-commands.js'
import { registerDashboardCommands } from './dashboard-commands.js'
import { registerTestbedCommands } from './testbed-commands.js'
import { registerChainCommands } from './chain-commands.js'
import { registerContentCommands } from './content-commands.js'
import { note } from './output.js'

/**
 * The package version, read from our package.json (one source of truth): the nearest one upward from this
 * module named `revoada` — three folders up from dist/src/cli/, two from the bundle in dist/bundle/.
 */
function version (): string {
  for (let dir = new URL('.', import.meta.url), depth = 0; depth < 5; dir = new URL('..', dir), depth++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'revoada') return pkg.version ?? 'unknown'
    } catch {
      // no readable package.json here: one folder up
    }
  }
  return 'unknown'
}

/** Errors whose cause is the operator's input: exit 3, no stack. */
const INPUT_ERRORS = new Set([
  'CliInputError', 'ConfigInvalidError', 'ConfigFileError', 'JoinStringInvalidError', 'ApiBindRefusedError',
  'ApiPortInUseError', 'MetricsListenInUseError', 'ListenAddressInUseError', 'ClusterMismatchError', 'HeartbeatTooLargeError', 'HeartbeatInvalidError',
  'ExportFileTooLargeError', 'InputFileTooLargeError', 'TestbedArgumentError'
])

/** The exit code for an error that reached the top. */
export function exitCodeOf (err: unknown): number {
  const e = err as Error & { code?: unknown, exitCode?: number }
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_CODES.invalidInput
  if (e.name === 'ApiRequestError' && isApiErrorCode(e.code)) return API_ERROR_CODES[e.code].exit
  if (INPUT_ERRORS.has(e.name)) return EXIT_CODES.invalidInput
  // 128 + the signal's number, as a shell reports a process the signal ended (after its clean-up).
  if (e.name === 'TestbedInterruptedError' && typeof e.exitCode === 'number') return e.exitCode
  if (e.name === 'NodeRemovedError') return 6
  // The data dir's committed log runs a protocol level above this build's (EXIT_CODE_PROTOCOL, consensus-service.ts).
  if (e.name === 'ProtocolLevelUnsupportedError') return 7
  if (e.name === 'NodeExitedError') return EXIT_CODE_NODE_EXITED
  return EXIT_CODES.error
}

/** Builds the command tree. */
function buildProgram (): Command {
  const program = new Command('revoada')
    .description('A peer node that decides by Raft consensus which machines hold Kubernetes control-plane roles')
    .version(version(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride()
  registerStartCommand(program)
  registerNodeCommands(program)
  registerShapeCommands(program)
  registerPolicyCommands(program)
  registerMaterializerCommands(program)
  registerDashboardCommands(program)
  registerTestbedCommands(program)
  registerChainCommands(program)
  registerContentCommands(program)
  overrideExits(program)
  return program
}

/** Every (sub)command's usage errors reach the one handler below instead of exiting on their own. */
function overrideExits (command: Command): void {
  command.exitOverride()
  for (const sub of command.commands) overrideExits(sub)
}

/** The commands that run a node: they never exit because an output stream failed (log/stdio-guard.ts). */
const NODE_COMMANDS = new Set(['start', 'recover-quorum'])

// A reader that went away (`revoada shape | head -1`) ends a one-shot command quietly, exit 0, as a Unix tool's
// output to a closed pipe does; unheard, the EPIPE was thrown with its stack (exit 1).
if (!NODE_COMMANDS.has(process.argv[2] ?? '')) {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0) })
  }
}

buildProgram().parseAsync(process.argv).catch((err: unknown) => {
  const code = exitCodeOf(err)
  // Commander has already printed its own usage message.
  if (!(err instanceof CommanderError)) {
    const e = err as Error
    const label = e.name === 'ApiRequestError' || e.name === 'CliInputError' ? '' : e.name !== 'Error' && e.name !== undefined ? `${e.name}: ` : ''
    note(`${label}${e.message ?? String(err)}`)
  }
  process.exit(code)
})
