/**
 * @module bench/cpu-profiles
 * Sums the V8 CPU profiles of many node processes (issue 16: where a node's CPU goes while a fleet forms).
 * Record them through a bench's node flags, e.g.
 *   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof --cpu-prof-interval=2000" SCALE_NODES=25 node dist/bench/scale.js
 * (with BENCH_NODE_ARGS the bench stops nodes with SIGTERM, so each writes its profile; the killed leader does not),
 * then `node dist/bench/cpu-profiles.js /tmp/prof [from-s] [to-s] [pattern]`: busy time of all profiles between
 * from-s and to-s after each process started, by package or revoada source file (self time), and the inclusive
 * share of every function whose "name file" matches `pattern` (a regular expression; default: gossipsub, noise,
 * pnet, membership, raft, identify, ping, signatures). Frames are mapped to their sources through the bundle's
 * source maps.
 */
import fs from 'node:fs'
import path from 'node:path'
import { SourceMap } from 'node:module'

interface CallFrame { functionName: string, url: string, lineNumber: number, columnNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface Profile { nodes: ProfileNode[], startTime: number, samples: number[], timeDeltas: number[] }

const [dir, fromArg = '0', toArg = '1e9', patternArg = 'gossipsub|noise|pnet|membership|raft|identify|ping|verify|sign|garbage'] = process.argv.slice(2)
if (dir === undefined) {
  console.error('usage: cpu-profiles <dir of .cpuprofile files> [from-s] [to-s] [pattern]')
  process.exit(2)
}
const fromS = Number(fromArg)
const toS = Number(toArg)
const pattern = new RegExp(patternArg)

const maps = new Map<string, SourceMap | null>()
function sourceMap (url: string): SourceMap | null {
  let map = maps.get(url)
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(fs.readFileSync(`${url.replace('file://', '')}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0])
    } catch {
      map = null
    }
    maps.set(url, map)
  }
  return map
}

const labels = new Map<string, { name: string, pkg: string }>()
/** "function source" and the package (node_modules) or revoada source file a frame belongs to. */
function label (frame: CallFrame): { name: string, pkg: string } {
  const key = `${frame.url}:${frame.lineNumber}:${frame.columnNumber}:${frame.functionName}`
  let found = labels.get(key)
  if (found === undefined) {
    let source = frame.url
    const entry = frame.url === '' ? undefined : sourceMap(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber)
    if (entry !== undefined && 'originalSource' in entry && typeof entry.originalSource === 'string') source = entry.originalSource
    const dependency = /node_modules\/((@[^/]+\/)?[^/]+)\/(.*\/)?([^/]+)$/.exec(source)
    // A dependency by package and file name; revoada's own code by its path from src/.
    const shown = dependency !== null ? `${dependency[1]}/${dependency[4]}` : source.replace(/^.*?\/(src|bench)\//, '$1/')
    const pkg = dependency?.[1] ?? (source.startsWith('node:') ? 'node:' + (source.split(':')[1]?.split('/')[0] ?? '') : source === '' ? frame.functionName : shown)
    found = { name: `${frame.functionName === '' ? '(anonymous)' : frame.functionName} ${shown}`, pkg }
    labels.set(key, found)
  }
  return found
}

const self = new Map<string, number>()
const inclusive = new Map<string, number>()
let busy = 0
let idle = 0
let profiles = 0
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Profile
  profiles++
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  let at = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0
    const s = (at - profile.startTime) / 1e6
    if (s < fromS || s > toS) continue
    const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0
    const leaf = byId.get(profile.samples[i] ?? -1)
    if (leaf === undefined) continue
    if (leaf.callFrame.functionName === '(idle)') { idle += dt; continue }
    busy += dt
    const own = ['(garbage collector)', '(program)'].includes(leaf.callFrame.functionName) ? leaf.callFrame.functionName : label(leaf.callFrame).pkg
    self.set(own, (self.get(own) ?? 0) + dt)
    const seen = new Set<string>()
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id)
      if (node === undefined) break
      const name = node.callFrame.functionName.startsWith('(') ? node.callFrame.functionName : label(node.callFrame).name
      if (pattern.test(name) && !seen.has(name)) {
        seen.add(name)
        inclusive.set(name, (inclusive.get(name) ?? 0) + dt)
      }
    }
  }
}

const top = (m: Map<string, number>, n: number): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
const pct = (v: number): string => `${(100 * v / busy).toFixed(1).padStart(5)} %`
console.log(`${profiles} profiles, ${fromS}–${toS} s after each start: busy ${(busy / 1e6).toFixed(1)} CPU-s, idle ${(idle / 1e6).toFixed(1)} s`)
console.log('\nself time by package or source file:')
for (const [k, v] of top(self, 30)) console.log(`${pct(v)}  ${k}`)
console.log(`\ninclusive time of functions matching /${pattern.source}/:`)
for (const [k, v] of top(inclusive, 50)) console.log(`${pct(v)}  ${k}`)
