/**
 * @module cli/code-cache
 * Loads the bundle's CommonJS chunks with V8's code cache (docs/STACK.md, "Code cache"). Compiling the bundle's
 * ~3 MB of JavaScript, and the functions a node runs while it starts, was a third of a node's start-up CPU; the
 * build runs one node and keeps, next to each chunk, the code V8 compiled for it (`<chunk>.js.v8cache`). A node
 * started later takes that code instead of compiling it again. Node 22 does this itself
 * (`module.enableCompileCache`); Node 20, our floor, does not.
 *
 * A cache is code V8 runs without checking it against the source (V8 compares only the source's length, its
 * own version and its flags), so each file is sealed: `MAGIC ‖ sha256(runtime) ‖ sha256(source) ‖ sha256(code)
 * ‖ code`, the runtime being Node's and V8's versions, the platform and the CPU architecture (what Node 22
 * keys its own cache by). A chunk whose source or cache does not match, a cache made by another Node, one V8
 * refuses (other V8 flags) or a missing one: that chunk compiles from source, as without a cache. Nothing is
 * written at run time. A stale or corrupt cache means a damaged install (a chunk or its cache changed after the
 * build): one line on stderr says so, once per process; a missing or refused one stays quiet (a build that could
 * not write caches warned then; a container on another Node refuses them by design).
 *
 * `RVD_CODE_CACHE=off` or Node 22's `NODE_DISABLE_COMPILE_CACHE=1` (and `--enable-source-maps`, whose stack traces
 * need Node's own loader) load the chunks with plain `require`; `RVD_CODE_CACHE=report` prints at exit how many
 * chunks took their cache; `write` is the build's (scripts/bundle.mjs). Not `REVOADA_*`: those are config keys.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import vm from 'node:vm'

/** The file next to a chunk that holds its sealed cache. */
export const CODE_CACHE_SUFFIX = '.v8cache'
const MAGIC = Buffer.from('revoada-v8cache1', 'latin1')
const DIGEST_BYTES = 32
const HEADER_BYTES = MAGIC.length + 3 * DIGEST_BYTES

/** Why a chunk did or did not take its cache. */
export type CodeCacheVerdict = 'used' | 'missing' | 'stale' | 'corrupt' | 'rejected'
export type CodeCacheMode = 'use' | 'write' | 'off'
/** The environment variable that picks the mode: `off`, `report` (use, and say so at exit) or `write`. */
export const CODE_CACHE_ENV = 'RVD_CODE_CACHE'

const sha256 = (bytes: Uint8Array | string): Buffer => createHash('sha256').update(bytes).digest()

/** What a cache is made for besides its source: this Node and V8, platform and architecture. */
export function codeCacheRuntime (): string {
  return `node ${process.version} v8 ${process.versions.v8} ${process.platform} ${process.arch}`
}

/** The cache file's bytes for V8's `code`, tied to the chunk's `source` and the runtime that made it. */
export function sealCodeCache (source: Uint8Array, code: Uint8Array, runtime = codeCacheRuntime()): Buffer {
  return Buffer.concat([MAGIC, sha256(runtime), sha256(source), sha256(code), code])
}

/**
 * The V8 code in `sealed` if it was made by this runtime for exactly `source` and arrived whole; otherwise why
 * not (`rejected`: made by another runtime; `stale`: made for another source; `corrupt`: not a sealed cache, or
 * its code changed since).
 */
export function openCodeCache (source: Uint8Array, sealed: Buffer | undefined, runtime = codeCacheRuntime()): { code?: Buffer, verdict: Exclude<CodeCacheVerdict, 'used'> | 'ok' } {
  if (sealed === undefined) return { verdict: 'missing' }
  if (sealed.length <= HEADER_BYTES || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) return { verdict: 'corrupt' }
  const digest = (i: number): Buffer => sealed.subarray(MAGIC.length + i * DIGEST_BYTES, MAGIC.length + (i + 1) * DIGEST_BYTES)
  const code = sealed.subarray(HEADER_BYTES)
  if (!digest(0).equals(sha256(runtime))) return { verdict: 'rejected' }
  if (!digest(1).equals(sha256(source))) return { verdict: 'stale' }
  if (!digest(2).equals(sha256(code))) return { verdict: 'corrupt' }
  return { code, verdict: 'ok' }
}

/** The loading mode from the environment and Node's flags. */
export function codeCacheMode (env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): CodeCacheMode {
  const wanted = env[CODE_CACHE_ENV]
  if (wanted === 'off' || wanted === 'write') return wanted
  if (env.NODE_DISABLE_COMPILE_CACHE !== undefined && env.NODE_DISABLE_COMPILE_CACHE !== '') return 'off'
  const sourceMaps = execArgv.includes('--enable-source-maps') || (env.NODE_OPTIONS ?? '').includes('--enable-source-maps')
  return sourceMaps ? 'off' : 'use'
}

interface Loaded { module: { exports: unknown, loaded: boolean }, script?: vm.Script, source?: Buffer }

/**
 * A CommonJS loader for one folder of chunks: a chunk's `require('./x.js')` of a sibling chunk comes back here;
 * everything else (Node's modules, the native addons) goes to Node's `require` for that chunk.
 */
export class ChunkLoader {
  readonly verdicts = new Map<string, CodeCacheVerdict>()
  private readonly loaded = new Map<string, Loaded>()
  private warned = false

  /** `warn` gets the one line about a damaged cache (stale or corrupt). @default a line on stderr */
  constructor (private readonly mode: Exclude<CodeCacheMode, 'off'>, private readonly warn: (line: string) => void = (line) => { process.stderr.write(`${line}\n`) }) {}

  /** Runs the chunk `file` (absolute) once and returns its exports. */
  load (file: string): unknown {
    const known = this.loaded.get(file)
    if (known !== undefined) return known.module.exports
    const source = fs.readFileSync(file)
    const module = { exports: {} as unknown, id: file, filename: file, loaded: false }
    const entry: Loaded = { module }
    // Registered before it runs, as Node does: a require cycle between chunks sees the exports so far.
    this.loaded.set(file, entry)
    const script = this.compile(file, source)
    if (this.mode === 'write') { entry.script = script; entry.source = source }
    const nodeRequire = createRequire(file)
    const chunkRequire = Object.assign((id: string): unknown => {
      return id.startsWith('./') && !id.slice(2).includes('/') && id.endsWith('.js') ? this.load(path.join(path.dirname(file), id)) : nodeRequire(id)
    }, { resolve: nodeRequire.resolve, cache: nodeRequire.cache, main: nodeRequire.main })
    const wrapper = script.runInThisContext() as (exports: unknown, require: unknown, module: unknown, filename: string, dirname: string) => void
    wrapper.call(module.exports, module.exports, chunkRequire, module, file, path.dirname(file))
    module.loaded = true
    return module.exports
  }

  /** Writes a sealed cache next to every chunk run so far (the build's step, once the node has started). */
  writeCaches (): number {
    let written = 0
    for (const [file, { script, source }] of this.loaded) {
      if (script === undefined || source === undefined) continue
      const temp = `${file}${CODE_CACHE_SUFFIX}.${process.pid}`
      fs.writeFileSync(temp, sealCodeCache(source, script.createCachedData()))
      fs.renameSync(temp, file + CODE_CACHE_SUFFIX)
      written++
    }
    return written
  }

  /** One line: how many chunks took their cache, and why the others did not. */
  report (): string {
    const counts = new Map<CodeCacheVerdict, number>()
    for (const verdict of this.verdicts.values()) counts.set(verdict, (counts.get(verdict) ?? 0) + 1)
    const others = (['missing', 'stale', 'corrupt', 'rejected'] as const).map((v) => `${v} ${counts.get(v) ?? 0}`).join(', ')
    return `revoada code cache: ${counts.get('used') ?? 0} of ${this.verdicts.size} chunks used their cache (${others})`
  }

  private compile (file: string, source: Buffer): vm.Script {
    let sealed: Buffer | undefined
    if (this.mode === 'use') {
      try {
        sealed = fs.readFileSync(file + CODE_CACHE_SUFFIX)
      } catch {
        // no cache for this chunk: it compiles from source
      }
    }
    const opened: ReturnType<typeof openCodeCache> = this.mode === 'use' ? openCodeCache(source, sealed) : { verdict: 'missing' }
    let text = source.toString('utf8')
    // A shebang is valid only at the very start of a script; as a comment it keeps every line where it was.
    if (text.startsWith('#!')) text = `//${text.slice(2)}`
    // The wrapper takes a line of its own, and lineOffset -1 keeps the chunk's line numbers for stack traces.
    const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {\n${text}\n})`, {
      filename: file,
      lineOffset: -1,
      cachedData: opened.code
    })
    // Node sets cachedDataRejected to false only when V8 took the code it was given.
    const verdict: CodeCacheVerdict = opened.verdict !== 'ok' ? opened.verdict : script.cachedDataRejected === false ? 'used' : 'rejected'
    this.verdicts.set(file, verdict)
    if ((verdict === 'stale' || verdict === 'corrupt') && !this.warned) {
      this.warned = true
      this.warn(`revoada: the code cache of ${path.basename(file)} is ${verdict} (the install changed after its build); compiling from source, which makes every start slower. Rebuild (npm run build) or reinstall.`)
    }
    return script
  }
}

/**
 * Runs a bundle entry chunk the way `mode` says (see the module's comment). The bin's `main.js` and the
 * testbed's `node-main.js` are one call of this.
 */
export function runBundle (entry: string, mode: CodeCacheMode = codeCacheMode(), report = process.env[CODE_CACHE_ENV] === 'report'): void {
  if (mode === 'off') {
    createRequire(entry)(entry)
    return
  }
  const loader = new ChunkLoader(mode)
  if (mode === 'write') process.once('exit', () => { process.stderr.write(`revoada code cache: wrote ${loader.writeCaches()} chunks\n`) })
  if (report) process.once('exit', () => { process.stderr.write(`${loader.report()}\n`) })
  loader.load(entry)
}
