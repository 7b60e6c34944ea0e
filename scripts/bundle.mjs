#!/usr/bin/env node
// `npm run build`, second step: bundles tsc's output into dist/bundle/, the files the `revoada` bin runs
// (docs/STACK.md "Bundled bin"). A node loaded 734 files at start, 533 of them ES modules from node_modules,
// each resolved, read, compiled and linked on its own; the bundle (18 files) starts the same node for less
// than half the CPU-seconds and ~16 MB less RSS (docs/bench/scale.md, "start-up CPU and idle RSS").
//
// - Input is tsc's output (dist/src), so the bundle runs exactly the JavaScript the tests run.
// - Code splitting is kept: the `import()`s of the CLI (the node, the testbed...) stay lazy chunks, so a
//   one-shot command such as `revoada status` does not load the node.
// - Whitespace is removed (less source for V8 to read and keep: ~5 MB RSS); names are not mangled and the
//   code not rewritten, so stack traces keep their function names and errors their `.name`. Source maps are
//   written next to the chunks (`node --enable-source-maps` maps traces back to dist/src).
// - ASCII only: V8 keeps each chunk's source in the heap, as a one-byte string only when no character is
//   above U+00FF; one `…` in a string made three chunks two-byte (1.9 MB more per node). Tagged templates
//   cannot be escaped by the bundler: write \u escapes in their source (src/dashboard/page.ts).
// - Native addons stay outside: their loaders find a platform binary next to themselves in node_modules.
// - The testbed spawns `node-main.js` from the folder of its own module, hence the second entry.
import { chmodSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'rolldown'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const OUT_DIR = path.join(ROOT, 'dist/bundle')
/** Packages with a native binary, resolved from node_modules at run time. */
const NATIVE_ADDONS = ['@napi-rs/blake-hash', 'sodium-native']

await build({
  cwd: ROOT,
  input: {
    main: path.join(ROOT, 'dist/src/cli/main.js'),
    'node-main': path.join(ROOT, 'dist/src/testbed/node-main.js')
  },
  platform: 'node',
  external: (id) => NATIVE_ADDONS.some((name) => id === name || id.startsWith(`${name}/`)),
  logLevel: 'warn',
  output: {
    dir: OUT_DIR,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
    cleanDir: true,
    sourcemap: true,
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true, asciiOnly: true } }
  }
})
chmodSync(path.join(OUT_DIR, 'main.js'), 0o755)
