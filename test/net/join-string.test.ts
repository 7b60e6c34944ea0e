/**
 * Join string encoding and cluster file handling.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeJoinString, encodeJoinString, loadOrCreateCluster } from '../../src/net/index.js'
import { startNode } from '../../src/node/index.js'
import { tempDir, testConfig } from '../node/helpers.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('join string', () => {
  it('should round-trip cluster id, key and addresses when encoded and decoded', () => {
    const info = { clusterId: 'abc', key: randomBytes(32), addresses: ['/ip4/10.0.0.1/tcp/4101', '/ip4/127.0.0.1/tcp/4101'] }
    const s = encodeJoinString(info)
    expect(s).toMatch(/^revoada1:[A-Za-z0-9_-]+$/)
    const back = decodeJoinString(s)
    expect(back.clusterId).toBe('abc')
    expect(Buffer.from(back.key).equals(info.key)).toBe(true)
    expect(back.addresses).toEqual(info.addresses)
  })

  it('should reject a wrong prefix, truncation and a bad address with a typed error', () => {
    const s = encodeJoinString({ clusterId: 'abc', key: randomBytes(32), addresses: ['/ip4/10.0.0.1/tcp/4101'] })
    expect(() => decodeJoinString(s.replace('revoada1:', 'revoada9:'))).toThrow(/expected prefix/)
    expect(() => decodeJoinString(s.slice(0, 20))).toThrow(expect.objectContaining({ name: 'JoinStringInvalidError' }))
    const bad = encodeJoinString({ clusterId: 'abc', key: randomBytes(32), addresses: ['garbage'] })
    expect(() => decodeJoinString(bad)).toThrow(/bad address/)
  })
})

describe('join string from untrusted text', () => {
  it('should reject an address given as bytes, which multiaddr() alone would accept', async () => {
    const { encode } = await import('@ipld/dag-cbor')
    const { multiaddr } = await import('@multiformats/multiaddr')
    const payload = encode({ a: [multiaddr('/ip4/127.0.0.1/tcp/4101').bytes], c: 'abc', k: randomBytes(32) })
    const text = `revoada1:${Buffer.from(payload).toString('base64url')}`
    expect(() => decodeJoinString(text)).toThrow(expect.objectContaining({ name: 'JoinStringInvalidError' }))
  })
})

describe('cluster file', () => {
  it('should create a cluster once with mode 0600 and reuse it', async () => {
    const d = await tempDir()
    dirs.push(d)
    const first = await loadOrCreateCluster(d)
    expect(first.created).toBe(true)
    expect(first.cluster.key.length).toBe(32)
    expect((await fs.stat(path.join(d, 'cluster.json'))).mode & 0o777).toBe(0o600)
    const second = await loadOrCreateCluster(d)
    expect(second.created).toBe(false)
    expect(Buffer.from(second.cluster.key).equals(Buffer.from(first.cluster.key))).toBe(true)
  })

  it('should refuse a join string of another cluster when the data dir already has one', async () => {
    const d = await tempDir()
    dirs.push(d)
    await loadOrCreateCluster(d)
    const other = { clusterId: 'other', key: randomBytes(32), addresses: ['/ip4/127.0.0.1/tcp/1'] }
    await expect(loadOrCreateCluster(d, other)).rejects.toHaveProperty('name', 'ClusterMismatchError')
  })

  it('should refuse a hand-edited seed that is no multiaddr with ClusterFileError naming it, and so refuse to start', async () => {
    const d = await tempDir()
    dirs.push(d)
    const stored = await loadOrCreateCluster(d, { clusterId: 'c1', key: randomBytes(32), addresses: ['/ip4/127.0.0.1/tcp/1'] })
    const file = path.join(d, 'cluster.json')
    const body = JSON.parse(await fs.readFile(file, 'utf8')) as { seeds: string[] }
    await fs.writeFile(file, JSON.stringify({ ...body, seeds: [...body.seeds, 'ip4/10.0.0.1/tcp/4001'] }), { mode: 0o600 })
    // Before, the file read well and the start failed later, in the redial loop, with the multiaddr parser's
    // InvalidMultiaddrError, naming neither the file nor the seed.
    await expect(loadOrCreateCluster(d)).rejects.toThrow(/cluster\.json: seed "ip4\/10\.0\.0\.1\/tcp\/4001" is no multiaddr/)
    await expect(loadOrCreateCluster(d)).rejects.toHaveProperty('name', 'ClusterFileError')
    await expect(startNode({ config: testConfig(d) })).rejects.toHaveProperty('name', 'ClusterFileError')
    expect(stored.cluster.seeds).toEqual(['/ip4/127.0.0.1/tcp/1'])
  })
})

/**
 * Goal: a `cluster.json` name that leads to no readable file (a symlink to a secret not mounted yet, a directory)
 * stops the start with ClusterFileError naming it, and is never replaced: before, a symlink to nothing read as
 * "no cluster yet", and a new cluster with a new key was written over the link; a directory got the advice to
 * chmod it.
 */
describe('cluster file that is not a readable file', () => {
  it('should refuse a symlink to nothing and keep the link', async () => {
    const d = await tempDir()
    dirs.push(d)
    const file = path.join(d, 'cluster.json')
    const target = path.join(d, 'secrets', 'cluster.json')
    await fs.symlink(target, file)
    const err = await loadOrCreateCluster(d).then(() => undefined, (e: unknown) => e as Error)
    expect(err?.name).toBe('ClusterFileError')
    expect(err?.message).toContain(file)
    expect(await fs.readlink(file)).toBe(target)
    await expect(fs.stat(target)).rejects.toHaveProperty('code', 'ENOENT')
  })

  it('should refuse a directory as not a regular file', async () => {
    const d = await tempDir()
    dirs.push(d)
    const file = path.join(d, 'cluster.json')
    await fs.mkdir(file, { mode: 0o700 })
    await expect(loadOrCreateCluster(d)).rejects.toThrow(/cluster\.json: not a regular file/)
  })
})
