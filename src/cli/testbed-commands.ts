/**
 * @module cli/testbed-commands
 * `revoada testbed up|status|kill|restart|partition|heal|down`: a local multi-node testbed of real node
 * processes (src/testbed), for trying failures by hand: kill the leader, cut two nodes apart, watch the
 * dashboard of any node. `up --netns` (root) puts each node in its own network namespace.
 */
import type { Command } from 'commander'
import type { TestbedNodeStatus } from '../testbed/index.js'
import { TESTBED_NODES_MAX } from '../testbed/constants.js'
import { parseCount } from './validate.js'

const DIR_HELP = 'testbed directory (default: ./.revoada-testbed)'
const DEFAULT_DIR = './.revoada-testbed'

interface DirOptions { dir?: string }

const dirOf = (opts: DirOptions): string => opts.dir ?? DEFAULT_DIR
const short = (id: string | null): string => id === null ? '-' : `${id.slice(0, 8)}…${id.slice(-6)}`

/** A node number as the operator wrote it; a bad one is invalid input (exit 3), as every other usage error. */
const nodeIndex = (value: string): number => parseCount('node number', value, [1, TESTBED_NODES_MAX])

/** A node no longer running: how it ended (`removed`, `left`, `killed`…), with the exit code it recorded. */
const stateText = (n: TestbedNodeStatus): string => n.state === 'exited' ? `exit ${n.exitCode ?? '?'}` : n.state

function printStatus (nodes: TestbedNodeStatus[]): void {
  const lines = nodes.map((n) => [
    `n${n.index}`.padEnd(4), (n.running ? `pid ${n.pid}` : stateText(n)).padEnd(10), short(n.nodeId).padEnd(17),
    (n.role ?? '-').padEnd(9), `term ${n.term ?? '-'}`.padEnd(8), (n.roles.join(',') || '-').padEnd(44),
    n.namespace !== undefined ? `${n.apiUrl.padEnd(26)} ${n.namespace}` : n.apiUrl
  ].join(' '))
  const header = 'node pid        nodeId            raft      term     roles                                        admin API' +
    (nodes.some((n) => n.namespace !== undefined) ? '                  network namespace' : '')
  process.stdout.write([header, ...lines].join('\n') + '\n')
}

async function runUp (opts: DirOptions & { nodes: string, target?: string, netns?: boolean }): Promise<void> {
  const { testbedUp, testbedStatus } = await import('../testbed/index.js')
  // NB: the nodes are detached, so Ctrl-C reaches this process only; unheard, it ended the CLI and left every
  // node it had started running. Heard, `up` stops at its next step and removes what it made, as on a failure.
  const interrupted = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => { interrupted.abort(signal) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const state = await testbedUp({
    dir: dirOf(opts), count: parseCount('--nodes', opts.nodes, [1, TESTBED_NODES_MAX]), netns: opts.netns === true, signal: interrupted.signal, ...(opts.target !== undefined ? { target: opts.target } : {})
  }).finally(() => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  })
  printStatus(await testbedStatus(state.dir))
  if (state.netns !== undefined) {
    const { name, subnet } = state.netns
    process.stdout.write(`\nnetwork namespaces ${name}-n1 … ${name}-n${state.nodes.length} on ${subnet}.0/24 (bridge in ${name}-sw); ` +
      `this host reaches them through link ${name} (${subnet}.254)\n`)
  }
  process.stdout.write(`\ndata dirs: ${state.dir}/n1 … n${state.nodes.length}; dashboard: revoada dashboard --data-dir ${state.dir}/n1\n`)
}

/** Registers `revoada testbed …`. */
export function registerTestbedCommands (program: Command): void {
  const testbed = program.command('testbed').description('a local multi-node testbed of real node processes')
  testbed.command('up')
    .description('start N nodes: node 1 creates the cluster, the others join; prints each node\'s admin API')
    .requiredOption('--nodes <n>', 'how many nodes')
    .option('--target <preset>', 'then set this target topology (homelab | ha-three)')
    .option('--dir <dir>', DIR_HELP)
    .option('--netns', 'run each node in its own network namespace; partitions by nftables there (root, ip and nft needed)')
    .action(runUp)
  testbed.command('status')
    .description('each node: process (or how it ended: removed, left, stopped, exit N, killed), Raft role, term, committed roles, admin API')
    .option('--dir <dir>', DIR_HELP)
    .option('--json', 'one JSON array, a record per node')
    .action(async (opts: DirOptions & { json?: boolean }) => {
      const { testbedStatus } = await import('../testbed/index.js')
      const nodes = await testbedStatus(dirOf(opts))
      if (opts.json === true) process.stdout.write(JSON.stringify(nodes, null, 2) + '\n')
      else printStatus(nodes)
    })
  testbed.command('kill').argument('<i>', 'node number').option('--dir <dir>', DIR_HELP)
    .description('SIGKILL node I (no goodbye: the others must detect it)')
    .action(async (i: string, opts: DirOptions) => {
      const { testbedKill } = await import('../testbed/index.js')
      const node = await testbedKill(dirOf(opts), nodeIndex(i))
      // NB: a node already gone is no failure (the wanted state holds), but "killed" would be untrue.
      process.stdout.write(node.killed
        ? `killed n${node.index} (pid ${node.pid}, ${node.nodeId})\n`
        : `n${node.index} was not running (pid ${node.pid} recorded): nothing killed\n`)
    })
  testbed.command('restart').argument('<i>', 'node number').option('--dir <dir>', DIR_HELP)
    .description('start a killed node I again from its data dir')
    .action(async (i: string, opts: DirOptions) => {
      const { testbedRestart } = await import('../testbed/index.js')
      const node = await testbedRestart(dirOf(opts), nodeIndex(i))
      process.stdout.write(`restarted n${node.index} (pid ${node.pid}), admin API ${node.apiUrl}\n`)
    })
  testbed.command('partition').argument('<i>', 'node number').argument('<j>', 'the other node\'s number').option('--dir <dir>', DIR_HELP)
    .description('cut the link between nodes I and J in both directions')
    .action(async (i: string, j: string, opts: DirOptions) => {
      const { testbedPartition } = await import('../testbed/index.js')
      await testbedPartition(dirOf(opts), nodeIndex(i), nodeIndex(j))
      process.stdout.write(`n${i} and n${j} can no longer reach each other\n`)
    })
  testbed.command('heal').option('--dir <dir>', DIR_HELP)
    .description('remove every partition')
    .action(async (opts: DirOptions) => {
      const { testbedHeal } = await import('../testbed/index.js')
      await testbedHeal(dirOf(opts))
      process.stdout.write('partitions removed\n')
    })
  testbed.command('down').option('--dir <dir>', DIR_HELP)
    .description('stop every node, delete its namespaces and links (--netns), and what up made in the testbed directory (the directory too once empty)')
    .action(async (opts: DirOptions) => {
      const { testbedDown } = await import('../testbed/index.js')
      const removed = await testbedDown(dirOf(opts))
      process.stdout.write(removed ? 'testbed stopped and removed\n' : `no testbed recorded in ${dirOf(opts)}: nothing to remove\n`)
    })
}
