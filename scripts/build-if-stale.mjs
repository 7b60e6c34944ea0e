#!/usr/bin/env node
// `npm start` runs this first: it builds (tsc, then the bundle the bin runs: scripts/bundle.mjs) only when a
// source file is newer than the last build, so a start with nothing changed does not pay for the compiler.
// The stamp is dist/.build-stamp, written after a successful build.
import { execFileSync } from 'node:child_process'
import process from 'node:process'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const STAMP = 'dist/.build-stamp'
const INPUTS = ['src', 'test', 'bench', 'scripts/bundle.mjs', 'tsconfig.json', 'package.json', 'package-lock.json']

function newestMtimeMs (p) {
  if (!existsSync(p)) return 0
  const stat = statSync(p)
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const name of readdirSync(p)) newest = Math.max(newest, newestMtimeMs(path.join(p, name)))
  return newest
}

const built = existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0
const changed = Math.max(...INPUTS.map(newestMtimeMs))
if (built === 0 || changed > built || !existsSync('dist/bundle/main.js')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' })
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { stdio: 'inherit' })
  writeFileSync(STAMP, new Date().toISOString() + '\n')
}
