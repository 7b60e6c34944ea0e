/**
 * The shipped bin, end to end: the file package.json's `bin` names (dist/bundle/main.js, built by `npm run
 * build`: scripts/bundle.mjs) is run the way an operator runs it — executed directly, through its shebang —
 * and brings up a 3-node testbed with the ha-three target. That covers what a bundle can break and the
 * other process tests (which run tsc's dist/src) cannot see: the testbed's node-main.js found next to the
 * bundle, the default catalog found upward from it (rendered manifests carry the catalog's CIDs), the native
 * addons loaded from node_modules (the pnet cipher is sodium-native's, BLAKE3 CIDs match), the version read
 * from package.json, every chunk's source one-byte (Latin-1) for V8, and the build's V8 code cache taken by
 * every chunk a node loads (src/cli/code-cache.ts).
 */
import { execFile, spawn } from 'node:child_process'
import { constants, existsSync, promises as fs, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { apiGet } from '../../src/api/index.js'
import { REVOADA_BIN_NODE_FLAGS } from '../../src/cli/node-flags.js'
import { cidOfBytes } from '../../src/codec/index.js'
import { tempDir, waitFor } from '../node/helpers.js'
import { cleanEnv } from './helpers.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string, bin: { revoada: string } }
const BIN = path.join(ROOT, PACKAGE.bin.revoada)

interface Run { code: number, stdout: string, stderr: string }

/** Runs the bin as an executable (its shebang picks node and the bin's flags). */
async function bin (args: string[], timeoutMs = 180_000): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(BIN, args, { env: cleanEnv(), timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

interface Status { role: string, leader: string | null, voters: string[], peers: string[] }
interface Manifests { files: Array<{ name: string, role: string, templateCid: string }> }

let root = ''
afterEach(async () => {
  if (root !== '') {
    await bin(['testbed', 'down', '--dir', path.join(root, 'tb')], 60_000)
    await fs.rm(root, { recursive: true, force: true })
    root = ''
  }
}, 90_000)

describe('the revoada bin (the bundle)', () => {
  it('should be the bundle, run through its shebang, and bring up an ha-three testbed that renders the default catalog', async () => {
    expect(PACKAGE.bin.revoada).toBe('dist/bundle/main.js')
    if (!existsSync(BIN)) throw new Error(`${BIN} missing: npm run build makes it (npm test builds first)`)
    await fs.access(BIN, constants.X_OK)
    expect(readFileSync(BIN, 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${REVOADA_BIN_NODE_FLAGS.join(' ')}`)
    // Every chunk is Latin-1: one character above U+00FF and V8 keeps that whole chunk's source as a two-byte
    // string, twice its size, in every node (scripts/bundle.mjs, asciiOnly).
    for (const name of (await fs.readdir(path.dirname(BIN))).filter((f) => f.endsWith('.js'))) {
      const text = await fs.readFile(path.join(path.dirname(BIN), name), 'utf8')
      expect([...text].find((c) => (c.codePointAt(0) ?? 0) > 0xff), name).toBeUndefined()
    }
    const version = await bin(['--version'])
    expect(version).toMatchObject({ code: 0, stdout: `${PACKAGE.version}\n` })

    // A node started through the bin compiles none of its chunks: each takes the code the build cached for it.
    root = await tempDir('revoada-bundle-')
    const lone = spawn(BIN, ['start', '--data-dir', path.join(root, 'lone'), '--listen', '/ip4/127.0.0.1/tcp/0'], { env: { ...cleanEnv(), RVD_CODE_CACHE: 'report' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let loneStdout = ''
    let loneStderr = ''
    lone.stdout.on('data', (chunk: Buffer) => { loneStdout += chunk.toString() })
    lone.stderr.on('data', (chunk: Buffer) => { loneStderr += chunk.toString() })
    const loneExit = new Promise((resolve) => lone.once('exit', resolve))
    // The banner's last line: its SIGTERM handler is installed right after it (a SIGTERM before ends it at once).
    await waitFor(() => loneStdout.includes('Join string'), 60_000, 'the lone node\'s banner')
    lone.kill('SIGTERM')
    await loneExit
    const cached = /revoada code cache: (\d+) of (\d+) chunks used their cache/.exec(loneStderr)
    expect(cached, loneStderr).not.toBeNull()
    expect(Number(cached?.[1])).toBe(Number(cached?.[2]))
    expect(Number(cached?.[1])).toBeGreaterThanOrEqual(10)

    const dir = path.join(root, 'tb')
    const up = await bin(['testbed', 'up', '--nodes', '3', '--target', 'ha-three', '--dir', dir])
    expect(up.code, up.stderr).toBe(0)
    const dataDirs = [1, 2, 3].map((i) => path.join(dir, `n${i}`))
    // Every node process runs the bundle's node-main.js, not tsc's output.
    const state = JSON.parse(await fs.readFile(path.join(dir, 'testbed.json'), 'utf8')) as { nodes: Array<{ pid: number }> }
    for (const { pid } of state.nodes) {
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(path.join(ROOT, 'dist/bundle/node-main.js'))
    }
    await waitFor(async () => {
      const statuses = await Promise.all(dataDirs.map(async (d) => await apiGet(d, '/v1/status') as Status))
      return statuses.every((s) => s.voters.length === 3 && s.peers.length === 2 && s.leader !== null)
    }, 120_000, 'three voters, a full mesh and a leader')

    // The etcd role renders the build's default template: its CID is that of catalog/etcd.yaml.
    const etcdCid = cidOfBytes(new Uint8Array(readFileSync(path.join(ROOT, 'catalog/etcd.yaml')))).toString()
    await waitFor(async () => {
      const manifests = await Promise.all(dataDirs.map(async (d) => JSON.parse((await bin(['manifests', '--json', '--data-dir', d])).stdout) as Manifests))
      return manifests.some((m) => m.files.some((f) => f.role === 'etcd' && f.templateCid === etcdCid))
    }, 120_000, 'an etcd manifest rendered from catalog/etcd.yaml')
    for (const d of dataDirs) {
      const log = await fs.readFile(path.join(d, 'node.log'), 'utf8')
      expect(log).toContain('"pnetCipher":"native"')
      expect(log).toContain('"signatureVerifier":"libsodium, then OpenSSL","signer":"libsodium"')
      expect(log).not.toContain('sodium-native did not load')
    }
  }, 420_000)
})
