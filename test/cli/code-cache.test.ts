/**
 * The bundle's code-cache loader (src/cli/code-cache.ts): a chunk takes the V8 code cached beside it only when
 * the cache was made for exactly its source and arrived whole; otherwise it compiles from source and runs
 * what the source says. V8 itself checks only the source's length, so a same-length edit is the case that
 * matters: without the seal, the old code would run.
 */
import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CODE_CACHE_SUFFIX, codeCacheMode, openCodeCache, sealCodeCache } from '../../src/cli/code-cache.js'
import { tempDir } from '../node/helpers.js'
import { REPO } from './helpers.js'

/** tsc's build of the loader (`npm test` builds first): each run below is a fresh process, as a node's start is. */
const LOADER = path.join(REPO, 'dist/src/cli/code-cache.js')

const ENTRY = [
  '#!/usr/bin/env node',
  'const dep = require("./dep.js")',
  'exports.value = dep.value; exports.base = require("node:path").basename(__filename)',
  'exports.fail = function fail () { return new Error("on line 4") }',
  ''
].join('\n')
const DEP = 'exports.value = 111\n'

let dir = ''
afterEach(async () => {
  if (dir !== '') await fs.rm(dir, { recursive: true, force: true })
  dir = ''
})

async function chunks (): Promise<{ entry: string, dep: string }> {
  dir = await tempDir('revoada-code-cache-')
  const entry = path.join(dir, 'entry.js')
  const dep = path.join(dir, 'dep.js')
  await fs.writeFile(entry, ENTRY)
  await fs.writeFile(dep, DEP)
  return { entry, dep }
}

interface Run { exports: { value: number, base: string, stack: string }, verdicts: Record<string, string>, written: number, report: string, stderr: string }

/**
 * Loads `entry` with a ChunkLoader in a new Node process (V8 would otherwise find the chunks in this process's
 * own compilation cache and never read the file's); `write` also writes the caches, as the build does.
 */
async function load (entry: string, mode: 'use' | 'write'): Promise<Run> {
  const script = `import { ChunkLoader } from ${JSON.stringify(LOADER)}
    const loader = new ChunkLoader(${JSON.stringify(mode)})
    const exports = loader.load(${JSON.stringify(entry)})
    const written = ${JSON.stringify(mode)} === 'write' ? loader.writeCaches() : 0
    console.log(JSON.stringify({ exports: { ...exports, stack: exports.fail().stack }, verdicts: Object.fromEntries(loader.verdicts), written, report: loader.report() }))`
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${err.message}\n${stderr}`))
      else resolve({ ...(JSON.parse(stdout) as Omit<Run, 'stderr'>), stderr })
    })
  })
}

describe('sealed code caches', () => {
  const source = Buffer.from('exports.a = 1\n')
  const code = Buffer.from('not really V8 code, but bytes')

  it('should open a cache sealed for the same source', () => {
    const opened = openCodeCache(source, sealCodeCache(source, code))
    expect(opened.verdict).toBe('ok')
    expect(opened.code?.equals(code)).toBe(true)
  })

  it('should refuse a cache sealed for another source of the same length as stale', () => {
    expect(openCodeCache(Buffer.from('exports.a = 2\n'), sealCodeCache(source, code))).toEqual({ verdict: 'stale' })
  })

  it('should refuse a cache made by another Node as rejected', () => {
    expect(openCodeCache(source, sealCodeCache(source, code, 'node v20.0.0 v8 11.3 linux x64'), 'node v22.1.0 v8 12.4 linux x64')).toEqual({ verdict: 'rejected' })
  })

  it('should refuse a cache whose code changed, a truncated one and one that is not a cache as corrupt', () => {
    const sealed = sealCodeCache(source, code)
    const flipped = Buffer.from(sealed)
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 1, flipped.length - 1)
    expect(openCodeCache(source, flipped).verdict).toBe('corrupt')
    expect(openCodeCache(source, sealed.subarray(0, sealed.length - 3)).verdict).toBe('corrupt')
    expect(openCodeCache(source, sealed.subarray(0, 20)).verdict).toBe('corrupt')
    expect(openCodeCache(source, Buffer.from('garbage'.repeat(20))).verdict).toBe('corrupt')
    expect(openCodeCache(source, undefined).verdict).toBe('missing')
  })
})

describe('the chunk loader', () => {
  it('should run chunks from their caches once the build wrote them', async () => {
    const { entry, dep } = await chunks()
    const first = await load(entry, 'use')
    expect(first.exports).toMatchObject({ value: 111, base: 'entry.js' })
    expect(first.verdicts).toEqual({ [entry]: 'missing', [dep]: 'missing' })
    // No cache yet is no damage: nothing said.
    expect(first.stderr).toBe('')

    expect((await load(entry, 'write')).written).toBe(2)
    const run = await load(entry, 'use')
    expect(run.exports).toMatchObject({ value: 111, base: 'entry.js' })
    expect(run.verdicts).toEqual({ [entry]: 'used', [dep]: 'used' })
    expect(run.report).toBe('revoada code cache: 2 of 2 chunks used their cache (missing 0, stale 0, corrupt 0, rejected 0)')
    expect(run.stderr).toBe('')
  })

  it('should run the new source of a chunk edited after its cache was written, even at the same length', async () => {
    const { entry, dep } = await chunks()
    await load(entry, 'write')
    await fs.writeFile(dep, DEP.replace('111', '222'))
    const run = await load(entry, 'use')
    expect(run.exports).toMatchObject({ value: 222 })
    expect(run.verdicts).toEqual({ [entry]: 'used', [dep]: 'stale' })
    // A damaged install is said once, naming the chunk and what to do.
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/code cache of dep\.js is stale .*Rebuild \(npm run build\) or reinstall/)])
  })

  it('should compile from source when a cache is corrupt or refused by V8', async () => {
    const { entry, dep } = await chunks()
    await load(entry, 'write')
    const sealed = await fs.readFile(dep + CODE_CACHE_SUFFIX)
    sealed.writeUInt8(sealed.readUInt8(sealed.length - 5) ^ 0xff, sealed.length - 5)
    await fs.writeFile(dep + CODE_CACHE_SUFFIX, sealed)
    // Sealed correctly, but not code this V8 made (another Node, other flags): V8 refuses it.
    await fs.writeFile(entry + CODE_CACHE_SUFFIX, sealCodeCache(await fs.readFile(entry), Buffer.alloc(256, 7)))
    const run = await load(entry, 'use')
    expect(run.exports).toMatchObject({ value: 111 })
    expect(run.verdicts).toEqual({ [entry]: 'rejected', [dep]: 'corrupt' })
    // The corrupt one is said (once); a cache another V8 made is refused quietly (a container on another Node).
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/code cache of dep\.js is corrupt/)])
  })

  it('should keep the chunk\'s own line numbers in stack traces, from a cache or not', async () => {
    const { entry } = await chunks()
    expect((await load(entry, 'write')).exports.stack).toContain(`${entry}:4:`)
    const run = await load(entry, 'use')
    expect(run.verdicts[entry]).toBe('used')
    expect(run.exports.stack).toContain(`${entry}:4:`)
  })
})

describe('the loading mode', () => {
  it('should use the cache unless told otherwise or source maps are on', () => {
    expect(codeCacheMode({}, [])).toBe('use')
    expect(codeCacheMode({ RVD_CODE_CACHE: 'report' }, [])).toBe('use')
    expect(codeCacheMode({ RVD_CODE_CACHE: 'off' }, [])).toBe('off')
    expect(codeCacheMode({ RVD_CODE_CACHE: 'write' }, [])).toBe('write')
    expect(codeCacheMode({ NODE_DISABLE_COMPILE_CACHE: '1' }, [])).toBe('off')
    expect(codeCacheMode({}, ['--enable-source-maps'])).toBe('off')
    expect(codeCacheMode({ NODE_OPTIONS: '--enable-source-maps' }, [])).toBe('off')
  })
})
