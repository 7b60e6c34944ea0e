/**
 * @module cli/content-add
 * How `revoada content add DIR` walks a tree (docs/CONTENT.md §8): it lists the whole tree first
 * (`scanTree`), then adds it bottom-up with up to ADD_REQUESTS_IN_FLIGHT_MAX requests in flight (`addTree`):
 * files of one directory and of sibling subtrees at once, each directory as soon as its entries are in.
 * Why at once: every add is a store-index change, durable (journal append + fdatasync) before it is answered,
 * and changes made together share one append and one fdatasync (group commit). One after another, a tree of
 * N objects cost N fdatasyncs and N round trips in a row (docs/bench/content.md, "content add of a tree").
 * The requests themselves are injected, so the walk is tested without a node.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { CliInputError } from './validate.js'

/**
 * Requests one `content add` keeps in flight. Enough for the node's group commit to share most fdatasyncs;
 * each file in flight holds one open file and one HTTP connection. Beyond it, the next add waits.
 */
export const ADD_REQUESTS_IN_FLIGHT_MAX = 8

export interface TreeFile { kind: 'file', path: string, bytes: number }
export interface TreeDir { kind: 'dir', path: string, entries: Array<{ name: string, node: TreeNode }> }
export type TreeNode = TreeFile | TreeDir

/**
 * Lists `target`: a file, or a directory with its files and directories below, entries in name order.
 * `target` itself may be a symlink (followed); below it symlinks, sockets, FIFOs and devices are skipped
 * (not content).
 * @throws CliInputError (exit 3) when `target` cannot be read or is neither a file nor a directory; the file
 *   system's error for what lies below it
 */
export async function scanTree (target: string): Promise<TreeNode> {
  const stat = await fs.stat(target).catch((err: NodeJS.ErrnoException) => {
    throw new CliInputError(`${target}: cannot read it (${err.code ?? err.message})`)
  })
  if (stat.isFile()) return { kind: 'file', path: target, bytes: stat.size }
  if (!stat.isDirectory()) throw new CliInputError(`${target} is neither a file nor a directory`)
  return await scanDir(target)
}

async function scanDir (dir: string): Promise<TreeDir> {
  const entries: TreeDir['entries'] = []
  for (const name of (await fs.readdir(dir)).sort()) {
    const child = path.join(dir, name)
    const stat = await fs.lstat(child)
    if (stat.isFile()) entries.push({ name, node: { kind: 'file', path: child, bytes: stat.size } })
    else if (stat.isDirectory()) entries.push({ name, node: await scanDir(child) })
  }
  return { kind: 'dir', path: dir, entries }
}

/** The bytes of every file in the tree (the progress bar's total). */
export function treeBytes (node: TreeNode): number {
  if (node.kind === 'file') return node.bytes
  return node.entries.reduce((sum, e) => sum + treeBytes(e.node), 0)
}

/** The requests that add one object; each resolves to the object's record. */
export interface AddRequests<R extends { cid: string }> {
  file: (file: TreeFile, isRoot: boolean) => Promise<R>
  dir: (dir: TreeDir, entries: Array<{ name: string, cid: string }>, isRoot: boolean) => Promise<R>
}

interface Task { node: TreeNode, children: number[] }

/** The tree's nodes, every node after all of its entries (post-order), each with its entries' task indices. */
function postOrder (root: TreeNode): Task[] {
  const tasks: Task[] = []
  const visit = (node: TreeNode): number => {
    const children = node.kind === 'dir' ? node.entries.map((e) => visit(e.node)) : []
    tasks.push({ node, children })
    return tasks.length - 1
  }
  visit(root)
  return tasks
}

/**
 * Adds the tree bottom-up and returns the root's record. At most `inFlightMax` requests run at once; a
 * directory's request starts once all its entries are added. The first failure ends the add: no request
 * starts after it, those in flight are waited for (each settles, none is left unobserved), and then the first
 * failure is thrown as it was.
 * @default inFlightMax ADD_REQUESTS_IN_FLIGHT_MAX
 */
export async function addTree<R extends { cid: string }> (root: TreeNode, requests: AddRequests<R>, inFlightMax = ADD_REQUESTS_IN_FLIGHT_MAX): Promise<R> {
  if (!Number.isSafeInteger(inFlightMax) || inFlightMax < 1) throw new RangeError(`inFlightMax must be a positive integer, got ${inFlightMax}`)
  const tasks = postOrder(root)
  // Invariant: results[i] is set when task i starts; every task before `next` has started.
  const results: Array<Promise<R>> = []
  let next = 0
  let failure: { error: unknown } | undefined
  const start = async (task: Task, isRoot: boolean): Promise<R> => {
    if (task.node.kind === 'file') return await requests.file(task.node, isRoot)
    const dir = task.node
    const records = await Promise.all(task.children.map(async (i) => await (results[i] as Promise<R>)))
    // Its entries may have come in after a failure elsewhere: no request starts after the first failure.
    if (failure !== undefined) throw failure.error
    return await requests.dir(dir, dir.entries.map((e, k) => ({ name: e.name, cid: (records[k] as R).cid })), isRoot)
  }
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < tasks.length) {
      const index = next++
      const result = start(tasks[index] as Task, index === tasks.length - 1)
      results[index] = result
      try {
        await result
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlightMax, tasks.length) }, worker))
  if (failure !== undefined) throw failure.error
  return await (results[tasks.length - 1] as Promise<R>)
}
