/**
 * The `revoada` bin's Node flags (src/cli/node-flags.ts) are also written out where nothing can import them:
 * the shebang of src/cli/main.ts (the bundle's first line, what `revoada` runs with), `npm start` and the
 * container image's wrapper. Each copy must carry exactly these flags, and this Node must accept them (a V8
 * flag renamed or dropped by a Node upgrade makes node refuse to start with "bad option").
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { REVOADA_BIN_NODE_FLAGS } from '../../src/cli/node-flags.js'
import { REPO } from './helpers.js'

const FLAGS = REVOADA_BIN_NODE_FLAGS.join(' ')
const read = (file: string): string => readFileSync(path.join(REPO, file), 'utf8')

describe('the revoada bin\'s Node flags', () => {
  it('should be the shebang of the CLI entry point, npm start\'s and the container wrapper\'s', () => {
    expect(read('src/cli/main.ts').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${FLAGS}`)
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
    expect(scripts.start).toContain(`&& node ${FLAGS} dist/bundle/main.js start`)
    expect(read('Dockerfile')).toContain(`exec node ${FLAGS} /opt/revoada/dist/bundle/main.js`)
  })

  it('should be accepted by this Node', () => {
    const run = spawnSync(process.execPath, [...REVOADA_BIN_NODE_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
  })
})
