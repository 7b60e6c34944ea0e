/**
 * @module test/fuzz/cli
 * `npm run fuzz -- --target NAME|all [--runs N] [--seed S] [--skip A,B] [--save DIR] [--replay FILE]`
 *
 * Runs N inputs per target from seed S (a random seed when omitted; printed first either way). A failure
 * prints the target, seed, run index, the error, the input's hex and a one-line reproducer, and with
 * `--save DIR` writes the input to `DIR/<target>/<hash>.bin` (how regression inputs are collected).
 * `--replay FILE` runs one saved input. Ends with the line `N passed, F failed` (targets); exits 1 if any
 * target failed.
 */
import { createHash, randomInt } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Command } from 'commander'
import { fuzzTarget, runInput } from './engine.js'
import type { FuzzFailure } from './engine.js'
import { TARGETS } from './targets/index.js'
import type { FuzzTarget } from './target.js'

interface CliOptions { target: string, runs: string, seed?: string, skip: string, save?: string, replay?: string, maxFailures: string, maxSeconds?: string }

function selectTargets (names: string, skip: string): FuzzTarget[] {
  const skipped = new Set(skip.split(',').map((s) => s.trim()).filter((s) => s !== ''))
  for (const name of skipped) if (!TARGETS.has(name)) throw new RangeError(`--skip: unknown target ${name}`)
  const wanted = names === 'all' ? [...TARGETS.keys()] : names.split(',').map((s) => s.trim())
  return wanted.filter((name) => !skipped.has(name)).map((name) => {
    const target = TARGETS.get(name)
    if (target === undefined) throw new RangeError(`unknown target ${name}; known: ${[...TARGETS.keys()].join(', ')}`)
    return target
  })
}

/** Saves a failing input under dir/<target>/ by content hash; returns the path. */
export function saveInput (dir: string, target: string, input: Uint8Array): string {
  const file = path.join(dir, target, `${createHash('sha256').update(input).digest('hex').slice(0, 16)}.bin`)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, input)
  return file
}

function report (failure: FuzzFailure, saveDir: string | undefined): void {
  const hex = Buffer.from(failure.input).toString('hex')
  console.log(`FAIL target=${failure.target} seed=${failure.seed} run=${failure.run} bytes=${failure.input.length}`)
  console.log(`  ${failure.error.name}: ${failure.error.message.split('\n')[0]?.slice(0, 400) ?? ''}`)
  const frame = failure.error.stack?.split('\n').slice(1, 4).map((l) => l.trim()).join(' | ')
  if (frame !== undefined) console.log(`  at ${frame}`)
  console.log(`  input (hex): ${hex.length > 600 ? `${hex.slice(0, 600)}… (${failure.input.length} bytes)` : hex}`)
  const saved = saveDir !== undefined ? saveInput(saveDir, failure.target, failure.input) : undefined
  if (saved !== undefined) console.log(`  saved: ${saved}`)
  console.log(`  reproduce: npm run fuzz -- --target ${failure.target} --seed ${failure.seed} --runs ${failure.run + 1}` +
    (saved !== undefined ? `   or   npm run fuzz -- --target ${failure.target} --replay ${saved}` : ''))
}

/**
 * Crashes grouped by error name and the first stack frame in our own code (outside the assertion
 * helpers), with the first message seen: roughly one line per distinct bug, however varied the values.
 */
function crashSignatures (failures: FuzzFailure[]): Map<string, number> {
  const counts = new Map<string, number>()
  const examples = new Map<string, string>()
  for (const f of failures) {
    const ours = (f.error.stack ?? '').split('\n').slice(1).filter((l) => !l.includes('node_modules'))
      .map((l) => /(?:dist\/)?((?:src|test)\/[^():]+:\d+)/.exec(l)?.[1])
      .find((l): l is string => l !== undefined && !l.includes('util/assert') && !l.includes('fuzz/target.'))
    const key = `${f.error.name} @ ${ours ?? 'library code'}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
    if (!examples.has(key)) examples.set(key, (f.error.message.split('\n')[0] ?? '').slice(0, 80))
  }
  return new Map([...counts].map(([key, count]) => [`${key} (e.g. "${examples.get(key) ?? ''}")`, count]))
}

async function replay (target: FuzzTarget, file: string): Promise<number> {
  if (target.setup !== undefined) await target.setup()
  const outcome = await runInput(target, new Uint8Array(fs.readFileSync(file)))
  await target.close?.()
  if (outcome === 'ok' || outcome === 'typed') {
    console.log(`replay ${file}: ${outcome === 'ok' ? 'accepted' : 'typed rejection'}`)
    return 0
  }
  console.log(`replay ${file}: ${outcome.name}: ${outcome.message}`)
  console.log(outcome.stack ?? '')
  return 1
}

async function main (): Promise<void> {
  const options = new Command()
    .name('fuzz')
    .requiredOption('--target <names>', `a target, a comma list, or all (${[...TARGETS.keys()].join(', ')})`)
    .option('--runs <n>', 'inputs per target', '10000')
    .option('--seed <s>', 'seed (32-bit integer); random when omitted')
    .option('--skip <names>', 'comma list of targets to leave out (with --target all)', '')
    .option('--save <dir>', 'write failing inputs to <dir>/<target>/<hash>.bin')
    .option('--replay <file>', 'run one saved input against the target')
    .option('--max-failures <n>', 'stop a target after this many failures (details are printed for the first 5)', '5')
    .option('--max-seconds <s>', 'stop each target after this many seconds (long runs)')
    .parse(process.argv)
    .opts<CliOptions>()
  const targets = selectTargets(options.target, options.skip)
  if (options.replay !== undefined) {
    if (targets.length !== 1) throw new RangeError('--replay needs exactly one --target')
    process.exitCode = await replay(targets[0] as FuzzTarget, options.replay)
    return
  }
  const seed = options.seed !== undefined ? Number(options.seed) : randomInt(0, 2 ** 31)
  if (!Number.isInteger(seed)) throw new RangeError(`--seed must be an integer, got ${options.seed}`)
  const runs = Number(options.runs)
  console.log(`fuzz seed=${seed} runs=${runs} targets=${targets.map((t) => t.name).join(',')}`)
  let passed = 0
  let failed = 0
  for (const target of targets) {
    const result = await fuzzTarget(target, {
      seed, runs, maxFailures: Number(options.maxFailures),
      ...(options.maxSeconds !== undefined ? { maxSeconds: Number(options.maxSeconds) } : {}),
      onProgress: (done) => console.log(`  ${target.name}: ${done} inputs…`)
    })
    await target.close?.()
    for (const failure of result.failures.slice(0, 5)) report(failure, options.save)
    if (options.save !== undefined) for (const failure of result.failures.slice(5)) saveInput(options.save, failure.target, failure.input)
    for (const [signature, count] of crashSignatures(result.failures)) console.log(`  ${count} × ${signature}`)
    const rate = result.runs / Math.max(result.seconds, 1e-9)
    console.log(`${result.failures.length === 0 ? 'ok  ' : 'FAIL'} ${target.name}: ${result.runs} inputs, ${result.typedRejections} typed rejections, ` +
      `${result.failures.length} crashes, ${result.seconds.toFixed(1)} s (${rate.toFixed(0)}/s), ` +
      `${result.cpuSeconds.toFixed(1)} CPU s (${(1e6 * result.cpuSeconds / Math.max(1, result.runs)).toFixed(0)} µs/input)`)
    if (result.failures.length === 0) passed++
    else failed++
  }
  console.log(`${passed} passed, ${failed} failed`)
  process.exitCode = failed > 0 ? 1 : 0
}

await main()
