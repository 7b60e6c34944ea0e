#!/usr/bin/env node
// `npm run build`, second step: bundles tsc's output into dist/bundle/, the files the `revoada` bin runs
// (docs/STACK.md "Bundled bin"). A node loaded 734 files at start, 533 of them ES modules from node_modules,
// each resolved, read, compiled and linked on its own; the bundle (~20 files) starts the same node for less
// than half the CPU-seconds and ~16 MB less RSS (docs/bench/scale.md, "start-up CPU and idle RSS").
//
// - Input is tsc's output (dist/src), so the bundle runs exactly the JavaScript the tests run.
// - CommonJS chunks (dist/bundle/package.json says so), loaded by src/cli/code-cache.ts with V8's code cache:
//   the last step below starts one node with the bin's flags and keeps the code V8 compiled for each chunk
//   (docs/STACK.md "Code cache"). `main.js` and `node-main.js` are two-line launchers of the entry chunks.
// - Code splitting is kept: the `import()`s of the CLI (the node, the testbed...) stay lazy chunks, so a
//   one-shot command such as `revoada status` does not load the node.
// - Whitespace is removed (less source for V8 to read and keep: ~5 MB RSS); names are not mangled and the
//   code not rewritten, so stack traces keep their function names and errors their `.name`. Source maps are
//   written next to the chunks (`node --enable-source-maps` maps traces back to dist/src).
// - ASCII only: V8 keeps each chunk's source in the heap, as a one-byte string only when no character is
//   above U+00FF; one `…` in a string made three chunks two-byte (1.9 MB more per node). Tagged templates
//   cannot be escaped by the bundler: write \u escapes in their source (src/dashboard/page.ts).
// - Native addons stay outside: their loaders find a platform binary next to themselves in node_modules.
// - The testbed spawns `node-main.js` from the folder of its own module, hence the second launcher.
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'rolldown'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const OUT_DIR = path.join(ROOT, 'dist/bundle')
/** Packages with a native binary, resolved from node_modules at run time. */
const NATIVE_ADDONS = ['@napi-rs/blake-hash', 'sodium-native']

await build({
  cwd: ROOT,
  input: {
    cli: path.join(ROOT, 'dist/src/cli/main.js'),
    'testbed-node': path.join(ROOT, 'dist/src/testbed/node-main.js'),
    'code-cache': path.join(ROOT, 'dist/src/cli/code-cache.js')
  },
  platform: 'node',
  external: (id) => NATIVE_ADDONS.some((name) => id === name || id.startsWith(`${name}/`)),
  logLevel: 'warn',
  output: {
    dir: OUT_DIR,
    format: 'cjs',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
    cleanDir: true,
    sourcemap: true,
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true, asciiOnly: true } }
  }
})
writeFileSync(path.join(OUT_DIR, 'package.json'), '{ "type": "commonjs" }\n')

/** A launcher: the entry chunk's shebang (the bin's Node flags, src/cli/main.ts), then the loader's one call. */
function writeLauncher (name, entryChunk) {
  const firstLine = readFileSync(path.join(OUT_DIR, entryChunk), 'utf8').split('\n', 1)[0]
  const shebang = firstLine.startsWith('#!') ? `${firstLine}\n` : ''
  writeFileSync(path.join(OUT_DIR, name), `${shebang}'use strict'\n// Runs ${entryChunk} through the code-cache loader (src/cli/code-cache.ts).\nrequire('./code-cache.js').runBundle(require('node:path').join(__dirname, '${entryChunk}'))\n`)
}
writeLauncher('main.js', 'cli.js')
writeLauncher('node-main.js', 'testbed-node.js')
chmodSync(path.join(OUT_DIR, 'main.js'), 0o755)

/**
 * The code cache: one node started with the bin's flags in a temp dir until it has printed its banner (the
 * admin API answers, and its SIGTERM handler is installed before it: a SIGTERM before the handler would end the
 * process without its exit handlers), then stopped; on exit the loader writes each chunk's compiled code next
 * to it. A build that cannot start a node still works, without the cache (its nodes start slower): a warning,
 * not a failure.
 */
async function writeCodeCache () {
  const { REVOADA_BIN_NODE_FLAGS } = await import(path.join(ROOT, 'dist/src/cli/node-flags.js'))
  const dir = mkdtempSync(path.join(os.tmpdir(), 'revoada-code-cache-'))
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('REVOADA_') && !key.startsWith('RVD_') && key !== 'NODE_OPTIONS' && key !== 'NODE_DISABLE_COMPILE_CACHE'))
  const child = spawn(process.execPath, [...REVOADA_BIN_NODE_FLAGS, path.join(OUT_DIR, 'main.js'), 'start', '--data-dir', path.join(dir, 'data'), '--listen', '/ip4/127.0.0.1/tcp/0'], {
    env: { ...env, RVD_CODE_CACHE: 'write' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    const deadline = Date.now() + 60_000
    while (!stdout.includes('Join string')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the node did not start: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)
      await sleep(50)
    }
    child.kill('SIGTERM')
    // Bounded: a node whose graceful stop hangs must not hang the build (unref'd: a stop in time exits at once).
    if (!await Promise.race([exited.then(() => true), sleep(30_000, false, { ref: false })])) throw new Error('the node did not stop within 30 s')
    const caches = readdirSync(OUT_DIR).filter((f) => f.endsWith('.v8cache')).length
    if (caches === 0) throw new Error(`no cache written: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)
  } catch (err) {
    child.kill('SIGKILL')
    process.stderr.write(`bundle: code cache not written (${err.message}); the bin works without it, its nodes start slower\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
await writeCodeCache()
