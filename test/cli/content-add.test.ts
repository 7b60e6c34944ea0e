/**
 * `revoada content add DIR` (src/cli/content-add.ts): the tree is added bottom-up with up to
 * ADD_REQUESTS_IN_FLIGHT_MAX requests at once, so the node's group commit shares fdatasyncs.
 * Goal: the same root CID as the one-at-a-time walk gave, every byte back through `content get -o`, and a failure
 * part way that ends the command with its own message, nothing started after it and nothing left unobserved.
 * Method: the walk with injected requests (no node) for the bound and the failure; then the real CLI against a
 * real node (uses dist/: `npm run build` first).
 */
import { execFile } from 'node:child_process'
import { promises as fs, createReadStream } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { ADD_REQUESTS_IN_FLIGHT_MAX, addTree, scanTree } from '../../src/cli/content-add.js'
import type { AddRequests, TreeNode } from '../../src/cli/content-add.js'
import { ContentStore } from '../../src/content/store.js'
import { parseRootCid } from '../../src/content/store.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'
import { MAIN, Procs, cleanEnv } from '../content/procs.js'

const run = promisify(execFile)

/**
 * The root CID `content add` printed for `writeTree`'s tree before it added concurrently (commit 322e206, the
 * one-at-a-time walk): the tree's bytes are fixed, so this is a vector.
 */
const TREE_ROOT_CID = 'bafyr4idaji7vrwy62rmxxqus5pzyzferstycdhnz4mcp6iachb476xjjem'

/** Bytes that depend only on `seed` and `size` (xorshift32), so the tree and its CID are the same every run. */
function bytesOf (seed: number, size: number): Buffer {
  const out = Buffer.alloc(size)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/**
 * A tree with files at three levels, an empty file, a file of two chunks, an empty directory, a name outside
 * ASCII and a symlink (skipped by `content add`). Returns the regular files' relative paths.
 */
async function writeTree (root: string): Promise<string[]> {
  const files: string[] = []
  const put = async (relative: string, bytes: Buffer): Promise<void> => {
    await fs.mkdir(path.dirname(path.join(root, relative)), { recursive: true })
    await fs.writeFile(path.join(root, relative), bytes)
    files.push(relative)
  }
  let seed = 1
  for (const dir of ['', 'a', 'a/deep', 'a/deep/er', 'b', 'ção']) {
    for (let i = 0; i < 6; i++) await put(path.join(dir, `f${i}.bin`), bytesOf(seed++, 100 + 997 * i))
  }
  await put('b/empty', Buffer.alloc(0))
  await put('b/two-chunks.bin', bytesOf(seed++, 1024 * 1024 + 12_345))
  await fs.mkdir(path.join(root, 'empty-dir'))
  await fs.symlink(path.join(root, 'a'), path.join(root, 'link'))
  return files
}

/** The root CID the store gives for `target` added one object at a time, entries in name order. */
async function storeCid (store: ContentStore, target: string): Promise<string> {
  const stat = await fs.lstat(target)
  if (stat.isFile()) return (await store.addFile(createReadStream(target))).cid
  const entries = []
  for (const name of (await fs.readdir(target)).sort()) {
    const child = path.join(target, name)
    const childStat = await fs.lstat(child)
    if (!childStat.isFile() && !childStat.isDirectory()) continue
    entries.push({ name, cid: parseRootCid(await storeCid(store, child)) })
  }
  return (await store.addDir(entries)).cid
}

/** A tree of `dirs` directories of `files` files each, without touching the disk. */
function fakeTree (dirs: number, files: number): TreeNode {
  return {
    kind: 'dir',
    path: 'top',
    entries: Array.from({ length: dirs }, (_, d) => ({
      name: `d${d}`,
      node: { kind: 'dir', path: `top/d${d}`, entries: Array.from({ length: files }, (_, f) => ({ name: `f${f}`, node: { kind: 'file', path: `top/d${d}/f${f}`, bytes: 1 } })) }
    }))
  }
}

/** The "CID" `fakeRequests` answer for the root of `node`, each directory naming its entries' in order. */
function fakeCid (node: TreeNode): string {
  if (node.kind === 'file') return `file(${node.path})`
  return `dir(${node.entries.map((e) => `${e.name}=${fakeCid(e.node)}`).join(',')})`
}

/** Lets `turns` rounds of the event loop pass (no wall clock): a request that takes that long. */
async function turns (n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

/**
 * Requests that answer after a few event-loop turns (varied by path, so they finish out of order), with a
 * "CID" naming what they were given; counts requests in flight and their peak.
 */
function fakeRequests (fail?: (path: string) => boolean, slow?: (path: string) => number): AddRequests<{ cid: string }> & { inFlight: number, peak: number, started: string[], settled: number } {
  const state = {
    inFlight: 0,
    peak: 0,
    started: [] as string[],
    settled: 0,
    file: async (file: { path: string }) => await state.answer(file.path, `file(${file.path})`),
    dir: async (dir: { path: string }, entries: Array<{ name: string, cid: string }>) =>
      await state.answer(dir.path, `dir(${entries.map((e) => `${e.name}=${e.cid}`).join(',')})`),
    async answer (where: string, cid: string): Promise<{ cid: string }> {
      state.started.push(where)
      state.inFlight++
      state.peak = Math.max(state.peak, state.inFlight)
      try {
        await turns(slow?.(where) ?? 1 + (where.length * 7 + state.started.length * 13) % 5)
        if (fail?.(where) === true) throw new Error(`refused ${where}`)
        return { cid }
      } finally {
        state.inFlight--
        state.settled++
      }
    }
  }
  return state
}

describe('content add of a tree (the walk)', () => {
  it('should keep at most ADD_REQUESTS_IN_FLIGHT_MAX requests in flight and give what one at a time gives', async () => {
    const tree = fakeTree(4, 10)
    const concurrent = fakeRequests()
    const record = await addTree(tree, concurrent)
    expect(concurrent.peak).toBe(ADD_REQUESTS_IN_FLIGHT_MAX)
    expect(record.cid).toBe(fakeCid(tree))
    // A directory is asked for only with its entries' answers, so the root's CID holds the whole tree.
    const oneAtATime = fakeRequests()
    expect((await addTree(tree, oneAtATime, 1)).cid).toBe(record.cid)
    expect(oneAtATime.peak).toBe(1)
    expect(concurrent.started.length).toBe(4 * 10 + 4 + 1)
    expect(concurrent.started.at(-1)).toBe('top')
  })

  it('should start nothing after the first failure, wait for the requests in flight, and throw that failure', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
    process.on('unhandledRejection', onUnhandled)
    try {
      // Every file of d1 fails, and so would d2's: only the first failure counts, and d2 never starts.
      const requests = fakeRequests((where) => where.startsWith('top/d1/') || where.startsWith('top/d2'))
      const error = await addTree(fakeTree(3, 10), requests).then(() => undefined, (err: unknown) => err as Error)
      expect(error?.message).toMatch(/^refused top\/d1\/f\d$/)
      expect(requests.inFlight).toBe(0)
      expect(requests.settled).toBe(requests.started.length)
      expect(requests.started.some((where) => where.startsWith('top/d2'))).toBe(false)
      expect(requests.started).not.toContain('top')
      await turns(10)
      expect(unhandled).toEqual([])

      // d0's request would start once its slow files are in, after d1/f0 failed: it must not.
      const late = fakeRequests((where) => where === 'top/d1/f0', (where) => where.startsWith('top/d0/') ? 50 : 1)
      const lateError = await addTree(fakeTree(3, 3), late).then(() => undefined, (err: unknown) => err as Error)
      expect(lateError?.message).toBe('refused top/d1/f0')
      expect(late.started).toEqual(expect.arrayContaining(['top/d0/f0', 'top/d0/f1', 'top/d0/f2', 'top/d1/f0']))
      expect(late.started).not.toContain('top/d0')
      expect(late.inFlight).toBe(0)
      await turns(10)
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})

describe('revoada content add DIR', () => {
  const procs = new Procs()
  afterAll(async () => { await procs.close() })

  it('should print the root CID the one-at-a-time walk gave, and content get -o should give back every byte', async () => {
    const root = await procs.init('revoada-content-add-')
    const node = path.join(root, 'node')
    await procs.start(node)
    const tree = path.join(root, 'tree')
    const files = await writeTree(tree)
    const store = await ContentStore.open({ dir: await tempDir('revoada-content-ref-'), quotaBytes: 1 << 30, log: silentLogger() })
    expect(await storeCid(store, tree)).toBe(TREE_ROOT_CID)
    expect(treeFiles(await scanTree(tree))).toBe(files.length)

    const added = await run(process.execPath, [MAIN, 'content', 'add', tree, '--data-dir', node], { env: cleanEnv() })
    expect(added.stdout).toBe(`${TREE_ROOT_CID}\n`)
    expect(added.stderr).toBe('')

    const out = path.join(root, 'out')
    await run(process.execPath, [MAIN, 'content', 'get', TREE_ROOT_CID, '-o', out, '--data-dir', node], { env: cleanEnv() })
    for (const file of files) expect((await fs.readFile(path.join(out, file))).equals(await fs.readFile(path.join(tree, file))), file).toBe(true)
    expect((await fs.readdir(path.join(out, 'empty-dir'))).length).toBe(0)
    expect((await fs.readdir(out)).sort()).toEqual(['a', 'b', 'empty-dir', ...Array.from({ length: 6 }, (_, i) => `f${i}.bin`), 'ção'].sort())
  }, 300_000)

  it('should fail with the node\'s message when a directory part way is refused, and add nothing after it; and with the read\'s error for a file that cannot be read', async () => {
    const root = await procs.init('revoada-content-add-fail-')
    const node = path.join(root, 'node')
    await procs.start(node)
    // `a` comes first and is refused (a backslash is not allowed in an entry name, docs/CONTENT.md §2), with
    // files of its own added before; 120 files of b…e come after it. Root cannot read around this one.
    const tree = path.join(root, 'tree')
    await fs.mkdir(path.join(tree, 'a'), { recursive: true })
    await fs.writeFile(path.join(tree, 'a', 'bad\\name'), 'refused by name')
    for (let i = 0; i < 3; i++) await fs.writeFile(path.join(tree, 'a', `ok${i}`), bytesOf(100 + i, 2000))
    for (const dir of ['b', 'c', 'd', 'e']) {
      await fs.mkdir(path.join(tree, dir))
      for (let i = 0; i < 30; i++) await fs.writeFile(path.join(tree, dir, `f${i}`), bytesOf(dir.charCodeAt(0) * 100 + i, 1500))
    }

    const failed = await run(process.execPath, [MAIN, 'content', 'add', tree, '--data-dir', node], { env: cleanEnv() })
      .then(() => undefined, (err: { code: number, stdout: string, stderr: string }) => err)
    expect(failed?.code).toBe(3) // BadRequest (docs/OPERATIONS.md "Errors")
    expect(failed?.stdout).toBe('')
    // One line, the node's typed error: no stack, no unhandled rejection, no second failure. (The name is
    // JSON in the message, and `note` escapes the backslashes once more.)
    expect(failed?.stderr).toBe(String.raw`revoada: MalformedContentError: bad entry name "bad\\\\name"` + '\n')

    const listed = JSON.parse((await run(process.execPath, [MAIN, 'content', 'ls', '--json', '--data-dir', node], { env: cleanEnv() })).stdout) as { objects: Array<{ type: string }> }
    expect(listed.objects.every((o) => o.type === 'file')).toBe(true)
    // a's 4 files, and at most what the other requests in flight had begun: nothing started after the failure.
    expect(listed.objects.length).toBeGreaterThanOrEqual(4)
    expect(listed.objects.length).toBeLessThan(4 + 120)

    // A file that cannot be read fails with the read's error and its path, not the HTTP client's view of a
    // broken body (before: an unhandled 'error' event and a stack). /proc/self/mem is a regular file whose
    // first page is never mapped: reading it fails with EIO, for root too.
    const unreadable = path.join(root, 'mem')
    await fs.symlink('/proc/self/mem', unreadable)
    const unread = await run(process.execPath, [MAIN, 'content', 'add', unreadable, '--data-dir', node], { env: cleanEnv() })
      .then(() => undefined, (err: { code: number, stdout: string, stderr: string }) => err)
    expect(unread?.code).toBe(1)
    expect(unread?.stderr).toBe(`revoada: cannot read ${unreadable}: EIO: i/o error, read\n`)
  }, 300_000)
})

function treeFiles (node: TreeNode): number {
  return node.kind === 'file' ? 1 : node.entries.reduce((sum, e) => sum + treeFiles(e.node), 0)
}
