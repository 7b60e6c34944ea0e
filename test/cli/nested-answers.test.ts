/**
 * Goal: what the CLI prints of an answer is checked to its nested fields. A server at api.json's port whose
 * answer has the right top level but wrong nested fields (a chain summary without `lastSeal`, decision items that
 * are null, a status whose `elections` has no counts) ends the command with NodeNotRunningError, one line, exit 1;
 * before, each ended in a raw TypeError or RangeError, or printed it with exit 0 or 2. `content get` of a
 * directory without `-o` is a usage error (exit 3; it was 1), and a directory answer whose entry names leave
 * `-o DIR` (`../x`) writes nothing. `content pin`, `unpin`, `forget` and `gc` check theirs too (before, they printed
 * whatever came, `{}` or `null` included, with exit 0).
 * Method: a plain HTTP server on port 0 answering each path with a set body; the built CLI runs against a temp
 * data dir whose api.json names it.
 */
import { createServer } from 'node:http'
import type { ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { cliRun, scratchSpace } from './helpers.js'

const CID = 'bafyr4ia3khqfurmguqfd7gxiuzq5z3htcvcz656bbeiip3pifbzznbghj4'
const ID = '12D3KooWx'
const { servers, newDir } = scratchSpace()

/** A data dir whose api.json names a server answering `handle`. */
async function dataDirServing (handle: (path: string, method: string, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume()
    handle((req.url ?? '').split('?')[0] ?? '', req.method ?? 'GET', res)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const dir = await newDir()
  await fs.writeFile(path.join(dir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' }))
  return dir
}

/** A data dir whose api.json names a server answering each path of `bodies` 200 with it as JSON, others `{}`. */
async function dataDirAnswering (bodies: Record<string, unknown>): Promise<string> {
  return await dataDirServing((p, _method, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(Object.hasOwn(bodies, p) ? bodies[p] : {}))
  })
}

const DECISION = { n: 1, by: ID, term: 1, atMs: 0, trigger: 'audit', truncated: 0, proposals: [], withheld: [] }
const CHAIN = { clusterId: 'c', firstVoter: ID, height: 1, head: 'h', firstStoredHeight: 1, sealedHeight: 0, voters: [ID], headWitnesses: [] }
const OBJECT = { cid: CID, type: 'file', size: 1, complete: true, pinned: false, lastUsedMs: 0 }
const GC = { removedObjects: 2, removedBlocks: 5, freedBytes: 3072 }

describe('commands against answers whose nested fields are no node\'s', () => {
  const cases: Array<[string, string[], Record<string, unknown>]> = [
    ['status: elections without counts', ['status'], { '/v1/status': { nodeId: ID, role: 'leader', term: 1, leader: ID, elections: {} } }],
    ['status: quorumRecovery without its lost voters', ['status'], { '/v1/status': { nodeId: ID, role: 'leader', term: 1, quorumRecovery: { running: true } } }],
    ['status: voters no list', ['status'], { '/v1/status': { nodeId: ID, role: 'leader', term: 1, voters: 'abc' } }],
    ['status --json: storage no object', ['status', '--json'], { '/v1/status': { nodeId: ID, storage: 'full' } }],
    ['chain: no lastSeal', ['chain'], { '/v1/chain': CHAIN }],
    ['chain: a seal whose witnesses are no list', ['chain'], { '/v1/chain': { ...CHAIN, lastSeal: { blockHeight: 1, sealedHeight: 1, head: 'h', witnesses: 'x' } } }],
    ['shape: pins no list', ['shape'], { '/v1/shape': { cid: 'c', appliedIndex: 1, target: {}, members: [], pins: 'x' } }],
    ['shape: removed no list', ['shape'], { '/v1/shape': { cid: 'c', appliedIndex: 1, target: {}, members: [], removed: 'ab' } }],
    ['decisions: a null withheld item', ['decisions'], { '/v1/decisions': { node: ID, lastN: 1, decisions: [{ ...DECISION, withheld: [null] }] } }],
    ['decisions: a time past Date\'s range', ['decisions'], { '/v1/decisions': { node: ID, lastN: 1, decisions: [{ ...DECISION, atMs: 1e20 }] } }],
    ['content ls: an object without its type', ['content', 'ls'], { '/v1/content': { objects: [{ ...OBJECT, type: undefined }], usedBytes: 0, quotaBytes: 1 } }],
    ['content ls: a time past Date\'s range', ['content', 'ls'], { '/v1/content': { objects: [{ ...OBJECT, lastUsedMs: -1e17 }], usedBytes: 0, quotaBytes: 1 } }],
    ['content providers: a null provider', ['content', 'providers', CID], { [`/v1/content/${CID}/providers`]: { providers: [null] } }],
    ['manifests: a file of no fields', ['manifests'], { '/v1/manifests': { manifestDir: '/m', roles: [], files: [{}], hooksPending: 0, events: [] } }],
    ['catalog: a role without templates', ['catalog'], { '/v1/catalog': { catalog: [{ role: 'etcd', source: 'default' }] } }],
    ['members: labels no map of strings', ['members'], { '/v1/members': { self: ID, members: [{ nodeId: ID, health: 'alive', generation: 1, roles: [], phi: 0, labels: 'x' }] } }],
    ['content pin: a record without pinned', ['content', 'pin', CID], { [`/v1/content/${CID}/pin`]: { cid: CID, type: 'file', size: 1, complete: true } }],
    ['content unpin: null', ['content', 'unpin', CID], { [`/v1/content/${CID}/unpin`]: null }],
    ['content forget --json: a size no number', ['content', 'forget', CID, '--json'], { [`/v1/content/${CID}/forget`]: { ...OBJECT, size: '1' } }],
    ['content gc: no counts', ['content', 'gc'], { '/v1/content/gc': { removedObjects: 1 } }],
    ['content gc --json: skipped no string', ['content', 'gc', '--json'], { '/v1/content/gc': { ...GC, skipped: true } }],
    ['propose: an outcome without its kind', ['propose', 'quarantine', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'], { '/v1/proposals': { index: 1, outcome: {} } }]
  ]
  it('should fail each with NodeNotRunningError naming the field, one line, exit 1, never a TypeError or RangeError', async () => {
    const results = await Promise.all(cases.map(async ([what, args, bodies]) => {
      const dir = await dataDirAnswering(bodies)
      return { what, ...await cliRun([...args, '--data-dir', dir], 60_000) }
    }))
    for (const { what, code, stdout, stderr } of results) {
      expect({ what, code, stdout }).toEqual({ what, code: 1, stdout: '' })
      expect({ what, stderr }).toEqual({ what, stderr: expect.stringMatching(/no running node found .*answered \/v1\/\S+ without /) as string })
      expect({ what, stderr }).toEqual({ what, stderr: expect.not.stringMatching(/TypeError|RangeError/) as string })
      expect({ what, lines: stderr.trim().split('\n').length }).toEqual({ what, lines: 1 })
    }
  }, 180_000)

  it('should still print answers whose nested fields are right', async () => {
    const dir = await dataDirAnswering({
      '/v1/status': { nodeId: ID, role: 'leader', term: 2, leader: ID, voters: [ID], learners: [], elections: { campaigns: { only_voter: 1 }, stepDowns: {}, stalls: 0 } },
      '/v1/chain': { ...CHAIN, lastSeal: null }
    })
    const [status, chain] = await Promise.all([cliRun(['status', '--data-dir', dir], 60_000), cliRun(['chain', '--data-dir', dir], 60_000)])
    expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' })
    expect(status.stdout).toContain('1 campaign (only voter 1)')
    expect({ code: chain.code, stderr: chain.stderr }).toEqual({ code: 0, stderr: '' })
    expect(chain.stdout).toContain('Last seal:    none')
  }, 60_000)

  /**
   * Goal: `content pin`, `unpin`, `forget` and `gc` print what the node answered as a line, or as JSON with `--json`
   * (before, one line of raw JSON whatever the flags, and whatever the answer held, with exit 0).
   */
  it('should print content pin, unpin, forget and gc answers as lines, and as JSON with --json', async () => {
    const dir = await dataDirAnswering({
      [`/v1/content/${CID}/pin`]: { ...OBJECT, pinned: true, size: 2048 },
      [`/v1/content/${CID}/unpin`]: OBJECT,
      [`/v1/content/${CID}/forget`]: { ...OBJECT, type: 'dir', complete: false, pinned: true },
      '/v1/content/gc': GC
    })
    const runs = [['pin', CID], ['unpin', CID], ['forget', CID], ['gc'], ['gc', '--json'], ['pin', CID, '--json']]
    const [pin, unpin, forget, gc, gcJson, pinJson] = await Promise.all(runs.map(async (args) => await cliRun(['content', ...args, '--data-dir', dir], 60_000)))
    for (const r of [pin, unpin, forget, gc, gcJson, pinJson]) expect({ code: r?.code, stderr: r?.stderr }).toEqual({ code: 0, stderr: '' })
    expect(pin?.stdout).toBe(`pinned ${CID} (file, 2.0 KiB)\n`)
    expect(unpin?.stdout).toBe(`unpinned ${CID} (file, 1 B): gc collects it once unused for the retention time\n`)
    expect(forget?.stdout).toBe(`forgot ${CID} (dir, 1 B, partial, was pinned): gc frees its blocks\n`)
    expect(gc?.stdout).toBe('gc removed 2 objects and 5 blocks, freed 3.0 KiB\n')
    expect(JSON.parse(gcJson?.stdout ?? '')).toEqual(GC)
    expect(JSON.parse(pinJson?.stdout ?? '')).toEqual({ ...OBJECT, pinned: true, size: 2048 })
  }, 60_000)
})

describe('content get of a directory', () => {
  /** A node whose fetch of CID is done and whose record of it is `record`. */
  async function nodeWithRecord (record: unknown): Promise<string> {
    return await dataDirServing((p, _method, res) => {
      res.setHeader('content-type', 'application/json')
      if (p.endsWith('/progress')) res.end(JSON.stringify({ state: 'done', bytesDone: 1, bytesTotal: 1 }))
      else if (p === `/v1/content/${CID}`) res.end(JSON.stringify(record))
      else if (p.endsWith('/data')) res.end('x')
      else res.end('{}')
    })
  }

  it('should be a usage error without -o (exit 3), as the other missing arguments', async () => {
    const dir = await nodeWithRecord({ ...OBJECT, type: 'dir', entries: [] })
    const { code, stdout, stderr } = await cliRun(['content', 'get', CID, '--data-dir', dir], 60_000)
    expect({ code, stdout }).toEqual({ code: 3, stdout: '' })
    expect(stderr).toContain('is a directory: give -o DIR')
  }, 60_000)

  it('should end with exit 1 on a progress state no fetch has, not poll it until its 24 h timeout', async () => {
    const dir = await dataDirServing((p, _method, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(p.endsWith('/progress') ? JSON.stringify({ state: 'paused', bytesDone: 0, bytesTotal: 0 }) : '{}')
    })
    const { code, stdout, stderr } = await cliRun(['content', 'get', CID, '--data-dir', dir], 60_000)
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' })
    expect(stderr).toContain('a state no fetch has ("paused")')
  }, 60_000)

  it('should write nothing when an entry name leaves -o DIR', async () => {
    const out = await newDir()
    for (const name of ['../escaped', 'a/b', '..', '']) {
      const dir = await nodeWithRecord({ ...OBJECT, type: 'dir', entries: [{ name: 'ok', cid: CID }, { name, cid: CID }] })
      const target = path.join(out, 'inner', 'tree')
      const { code, stdout, stderr } = await cliRun(['content', 'get', CID, '-o', target, '--data-dir', dir], 60_000)
      expect({ name, code, stdout }).toEqual({ name, code: 1, stdout: '' })
      expect({ name, stderr }).toEqual({ name, stderr: expect.stringContaining('entry name that is no file name') as string })
      expect(existsSync(path.join(out, 'inner'))).toBe(false)
    }
  }, 120_000)
})
