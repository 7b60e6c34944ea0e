/**
 * @module test/consensus/sim/cli
 * `npm run sim -- --seeds N [--seed S] [--steps M] [--first F] [--verbose] [--bug NAME] [--end-to-end-only] [--quorum-loss]`: runs N seeds
 * (F, F+1, …; F defaults to 1) or the one seed S, prints one line per failure with its seed, the options the
 * seed chose, a one-line replay command and the last trace events, and ends with the exact line
 * `N passed, F failed`. Exits 1 if any seed failed.
 */
import { Command } from 'commander'
import type { RaftTestingBugs } from '../../../src/consensus/core/config.js'
import { DEFAULT_STEPS } from './constants.js'
import { describeSwarm, formatFailure, runSeed } from './simulator.js'

interface CliOptions {
  seeds: string
  seed?: string
  steps: string
  first: string
  verbose?: boolean
  bug?: string
  endToEndOnly?: boolean
  quorumLoss?: boolean
}

function parseBug (name: string | undefined): RaftTestingBugs {
  if (name === undefined) return {}
  const known = ['commitOldTermByCounting', 'voteBeforePersist', 'acceptMismatchedEntries', 'selfAckBeforePersist']
  if (!known.includes(name)) throw new RangeError(`--bug must be one of ${known.join(', ')}, got ${name}`)
  return { [name]: true }
}

function main (): void {
  const program = new Command()
    .name('sim')
    .option('--seeds <n>', 'number of seeds to run', '20')
    .option('--seed <s>', 'run this one seed only')
    .option('--steps <m>', 'safety-phase ticks per seed', String(DEFAULT_STEPS))
    .option('--first <f>', 'first seed of the range', '1')
    .option('--verbose', 'print every event as it happens')
    .option('--end-to-end-only', 'skip the rule checks (vote durability, commit rule); keep the end-to-end ones')
    .option('--quorum-loss', 'lose a quorum in every seed and recover it (by default about one seed in five does)')
    .option('--bug <name>', 'plant a testing bug in every node (commitOldTermByCounting, voteBeforePersist, acceptMismatchedEntries, selfAckBeforePersist)')
    .parse(process.argv)
  const options = program.opts<CliOptions>()
  const steps = Number(options.steps)
  const bugs = parseBug(options.bug)
  const seeds: number[] = []
  if (options.seed !== undefined) seeds.push(Number(options.seed))
  else for (let i = 0; i < Number(options.seeds); i++) seeds.push(Number(options.first) + i)
  let passed = 0
  let failed = 0
  let unknown = 0
  const marks: Record<string, number> = {}
  const started = performance.now()
  for (const seed of seeds) {
    const result = runSeed({ seed, steps, bugs, verbose: options.verbose === true, ruleChecks: options.endToEndOnly !== true,
      forceQuorumLoss: options.quorumLoss === true })
    if (result.verdict === 'unknown') unknown++
    for (const [name, count] of Object.entries(result.marks)) marks[name] = (marks[name] ?? 0) + count
    if (result.ok) passed++
    else { failed++; for (const line of formatFailure(result, options.bug, options.endToEndOnly === true)) console.log(line) }
    if (seeds.length === 1) {
      const s = result.stats
      console.log(`seed=${seed} ${describeSwarm(result.swarm)}`)
      console.log(`  ops=${s.operations} completed=${s.completed} retries=${s.retries} committed=${s.committed} ` +
        `maxTerm=${s.maxTerm} crashes=${s.crashes} delivered=${s.delivered} dropped=${s.dropped} checks=${s.checks}`)
      console.log(`  faults: ${s.faults}`)
    }
  }
  const seconds = (performance.now() - started) / 1000
  console.log(`coverage: ${Object.entries(marks).map(([k, v]) => `${k}=${v}`).join(' ')}`)
  console.log(`ran ${seeds.length} seeds x ${steps} steps in ${seconds.toFixed(1)} s; linearizability unknown: ${unknown}`)
  console.log(`${passed} passed, ${failed} failed`)
  process.exitCode = failed > 0 ? 1 : 0
}

main()
