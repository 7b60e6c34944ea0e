/**
 * @module cli/content-commands
 * `revoada content …` (issue 13): add a file, a directory or stdin; get a CID into a file, a directory or
 * stdout; ls, pin, unpin, forget, gc, providers. Every command talks to the running node's `/v1/content` API; bytes
 * are streamed both ways, so memory stays bounded for any size. A progress bar shows on a TTY.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs'
import path from 'node:path'
import { Readable, Transform, pipeline } from 'node:stream'
import { pipeline as pipelinePromise } from 'node:stream/promises'
import type { Command } from 'commander'
import { NodeNotRunningError, answerText, apiGetChecked, errorBodyText, apiRequest, apiRequestChecked, checkAnswer, readApiFile } from '../api/index.js'
import type { AnswerFields } from '../api/index.js'
import type { FetchProgress } from '../content/fetch.js'
import { validEntryName } from '../content/core/manifest.js'
import { parseRootCid } from '../content/object-record.js'
import { ApiRequestError } from '../api/index.js'
import { createProgress, formatBytes } from './progress.js'
import { addTree, scanTree, treeBytes } from './content-add.js'
import { print, printJson } from './output.js'
import { CliInputError } from './validate.js'

const DATA_DIR_HELP = 'data directory (default: $REVOADA_DATA_DIR or ./.revoada)'
/** How often `get` asks for fetch progress. */
const POLL_MS = 200
/** Long enough for a large fetch; the node enforces its own per-request timeouts. */
const LONG_REQUEST_MS = 24 * 60 * 60 * 1000

interface Opts { dataDir?: string, json?: boolean, pin?: boolean, output?: string }

function dataDirOf (opts: Opts): string {
  return opts.dataDir ?? process.env.REVOADA_DATA_DIR ?? './.revoada'
}

interface ObjectRecord { cid: string, type: 'file' | 'dir', size: number, complete: boolean, pinned: boolean, addedAtMs: number, lastUsedMs: number, entries?: Array<{ name: string, cid: string, size: number }> }
interface Progress { state: string, bytesDone: number, bytesTotal: number, providers?: string[], droppedProviders?: string[], error?: { name: string, message: string } }

/** Every state a fetch's progress can be in (content/fetch.ts `FetchProgress`). */
const FETCH_STATES: ReadonlySet<string> = new Set<FetchProgress['state']>(['queued', 'waiting-for-providers', 'manifest', 'chunks', 'done', 'failed'])
/** The fields of a fetch's progress the CLI reads (checkAnswer). */
const PROGRESS_FIELDS: AnswerFields = { state: 'string', bytesDone: 'number?', bytesTotal: 'number?', error: { record: { name: 'string', message: 'string' }, optional: true } }
/** The fields of an object record `get` reads, a directory's entries too (checkAnswer). */
const RECORD_FIELDS: AnswerFields = { type: 'string', entries: { list: { name: 'string', cid: 'string' }, optional: true } }
/** The fields of `GET /v1/content` that `ls` prints, each object's too (checkAnswer). */
const LS_FIELDS: AnswerFields = {
  objects: { list: { cid: 'string', type: 'string', size: 'number', complete: 'boolean', pinned: 'boolean', lastUsedMs: 'time' } },
  usedBytes: 'number',
  quotaBytes: 'number'
}
/** The fields of the record `pin`, `unpin` and `forget` answer that they print (checkAnswer). */
const RECORD_ANSWER_FIELDS: AnswerFields = { cid: 'string', type: 'string', size: 'number', complete: 'boolean', pinned: 'boolean' }
/** What `POST /v1/content/gc` answers (src/content/garbage-collector.ts GcResult), as `gc` prints it (checkAnswer). */
interface GcAnswer { removedObjects: number, removedBlocks: number, freedBytes: number, skipped?: string }
const GC_FIELDS: AnswerFields = { removedObjects: 'number', removedBlocks: 'number', freedBytes: 'number', skipped: 'string?' }
/** The fields of `GET /v1/content/:cid/providers` that `providers` prints (checkAnswer). */
const PROVIDERS_FIELDS: AnswerFields = { providers: { list: { peer: 'string', partial: 'boolean', score: 'number-or-null', expiresInMs: 'number-or-null' } } }

/**
 * `text` when it is a content root's CID (`parseRootCid`), checked before any request: it is put in the route, so
 * `../status` or `x?y` reached other routes and answered with their errors, 404 (exit 5) or an answer's fields.
 * @throws CliInputError (exit 3) otherwise
 */
function checkCid (text: string): string {
  try {
    return parseRootCid(text).toString()
  } catch {
    throw new CliInputError(`${JSON.stringify(text.slice(0, 100))} is not a content CID (a BLAKE3 dag-cbor CIDv1, bafyr4i…, as \`content add\` prints)`)
  }
}

/** Raw request to the node (streams in or out); JSON errors become ApiRequestError. */
async function raw (dataDir: string, method: 'GET' | 'POST', route: string, body?: Readable): Promise<Response> {
  const api = await readApiFile(dataDir)
  const res = await fetch(new URL(route, api.url), {
    method,
    headers: { authorization: `Bearer ${api.token}`, ...(body !== undefined ? { 'content-type': 'application/octet-stream' } : {}) },
    ...(body !== undefined ? { body: Readable.toWeb(body) as ReadableStream, duplex: 'half' } : {}),
    signal: AbortSignal.timeout(LONG_REQUEST_MS)
  } as RequestInit)
  if (!res.ok) throw new ApiRequestError(route, res.status, await errorBodyText(res))
  return res
}

/** Passes bytes through, reporting how many went by in each piece. */
function counting (onBytes: (n: number) => void): Transform {
  return new Transform({ transform (chunk: Buffer, _enc, cb) { onBytes(chunk.length); cb(null, chunk) } })
}

/**
 * Streams `source` to the node as one file. A failure to read it (a file removed since the scan, an IO error)
 * is thrown as `cannot read <label>: <the read's error>`, not as whatever the HTTP client makes of a body that
 * failed ("fetch failed", or "body … disturbed or locked" when it failed before the request began).
 */
async function addFile (dataDir: string, source: Readable, options: { label: string, pin: boolean, onBytes: (n: number) => void }): Promise<ObjectRecord> {
  const counter = counting(options.onBytes)
  let readError: Error | undefined
  // Listening before pipeline() does: an error the source emits after the counter is destroyed is the
  // request's (pipeline passes it back up), not the read's.
  source.once('error', (err) => { if (!counter.destroyed) readError ??= err })
  const body = pipeline(source, counter, () => {})
  try {
    const res = await raw(dataDir, 'POST', `/v1/content${options.pin ? '?pin=true' : ''}`, body)
    // Read as every answer is (at most API_ANSWER_BYTES_MAX; res.json() read any length).
    let answer: unknown
    try {
      answer = JSON.parse(await answerText(res, res.url))
    } catch (err) {
      if ((err as Error).name === 'ApiAnswerTooLargeError') throw err
      throw new NodeNotRunningError(dataDir, 'the API in api.json answered /v1/content with something that is no JSON: not a revoada node')
    }
    return checkAnswer(dataDir, '/v1/content', answer, { cid: 'string' }) as unknown as ObjectRecord
  } catch (err) {
    if (readError !== undefined) throw new Error(`cannot read ${options.label}: ${readError.message}`, { cause: readError })
    throw err
  }
}

/**
 * Adds a file or a directory tree (content-add.ts: listed first, then added bottom-up with a few requests in
 * flight), with one progress bar for all of its bytes. Only the root is pinned: it keeps everything below it.
 */
async function addPath (dataDir: string, target: string, pin: boolean): Promise<ObjectRecord> {
  const tree = await scanTree(target)
  const total = treeBytes(tree)
  const bar = createProgress(`add ${path.basename(target)}`)
  let sent = 0
  const onBytes = (n: number): void => { sent += n; bar.update(sent, total) }
  try {
    return await addTree<ObjectRecord>(tree, {
      file: async (file, isRoot) => await addFile(dataDir, createReadStream(file.path), { label: file.path, pin: pin && isRoot, onBytes }),
      dir: async (_dir, entries, isRoot) => await apiRequestChecked<ObjectRecord>(dataDir, 'POST', '/v1/content/dir', { entries, pin: pin && isRoot }, { cid: 'string' }, LONG_REQUEST_MS)
    })
  } finally {
    bar.finish()
  }
}

async function runAdd (target: string, opts: Opts): Promise<void> {
  const dataDir = dataDirOf(opts)
  let record: ObjectRecord
  if (target === '-') {
    const bar = createProgress('add stdin')
    let sent = 0
    const onBytes = (n: number): void => { sent += n; bar.update(sent, 0) }
    record = await addFile(dataDir, process.stdin, { label: 'stdin', pin: opts.pin === true, onBytes }).finally(() => { bar.finish() })
  } else {
    record = await addPath(dataDir, target, opts.pin === true)
  }
  process.stdout.write(opts.json === true ? JSON.stringify(record, null, 2) + '\n' : `${record.cid}\n`)
}

/** `content get` of a directory without -o DIR: a usage error like the other missing arguments (exit 3). */
function directoryWithoutOutput (cid: string): CliInputError {
  return new CliInputError(`${cid} is a directory: give -o DIR`)
}

/**
 * Starts the fetch and follows its progress until it is done; throws its typed error if it failed. `filesOnly`
 * (no -o DIR): the node refuses a directory once its manifest is in, before anything below it is fetched or
 * pinned (before, the whole tree was fetched, and pinned with --pin, and then refused).
 */
async function fetchWithProgress (dataDir: string, cid: string, options: { pin: boolean, filesOnly: boolean }): Promise<void> {
  const bar = createProgress(`get ${cid.slice(0, 16)}…`)
  const query = [...(options.pin ? ['pin=true'] : []), ...(options.filesOnly ? ['files=true'] : [])].join('&')
  await apiRequest(dataDir, 'POST', `/v1/content/${cid}/fetch${query === '' ? '' : `?${query}`}`, {}, LONG_REQUEST_MS)
  while (true) {
    const progress = await apiGetChecked<Progress>(dataDir, `/v1/content/${cid}/progress`, PROGRESS_FIELDS)
    bar.update(progress.bytesDone ?? 0, progress.bytesTotal ?? 0)
    if (progress.state === 'done') break
    // A state no node of this build reports would keep the loop polling until its 24 h timeout.
    if (!FETCH_STATES.has(progress.state)) {
      bar.finish()
      throw new NodeNotRunningError(dataDir, `the API in api.json answered /v1/content/${cid}/progress with a state no fetch has (${JSON.stringify(progress.state).slice(0, 80)}): not a revoada node`)
    }
    if (progress.state === 'failed') {
      bar.finish()
      if (options.filesOnly && progress.error?.name === 'NotAFileError') throw directoryWithoutOutput(cid)
      const err = new Error(progress.error?.message ?? 'fetch failed')
      err.name = progress.error?.name ?? 'FetchFailedError'
      throw err
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  bar.finish()
}

async function writeObject (dataDir: string, cid: string, output: string | undefined): Promise<void> {
  const record = await apiGetChecked<ObjectRecord>(dataDir, `/v1/content/${cid}`, RECORD_FIELDS)
  if (record.type === 'dir') {
    // The fetch did not refuse it: held here already (refused before the fetch's 202), another caller's fetch
    // of it, or a node before `files=true`.
    if (output === undefined) throw directoryWithoutOutput(cid)
    // Every node refuses such names (validEntryName); an answer holding one (`../x`, `a/b`) would write
    // outside -o DIR.
    const bad = (record.entries ?? []).find((entry) => !validEntryName(entry.name))
    if (bad !== undefined) throw new NodeNotRunningError(dataDir, `the API in api.json answered /v1/content/${cid} with an entry name that is no file name (${JSON.stringify(bad.name).slice(0, 80)}): not a revoada node`)
    await fs.mkdir(output, { recursive: true })
    for (const entry of record.entries ?? []) await writeObject(dataDir, entry.cid, path.join(output, entry.name))
    return
  }
  const res = await raw(dataDir, 'GET', `/v1/content/${cid}/data`)
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream)
  if (output === undefined) {
    await pipelinePromise(body, process.stdout)
    return
  }
  // Written beside, then renamed: a failed get never leaves a truncated file under the final name, nor the
  // file beside it.
  const partial = `${output}.partial`
  try {
    await pipelinePromise(body, createWriteStream(partial, { mode: 0o644 }))
    await fs.rename(partial, output)
  } catch (err) {
    await fs.rm(partial, { force: true })
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EACCES' || code === 'EROFS') {
      throw new CliInputError(`-o ${output}: cannot write it (${code})`)
    }
    throw err
  }
}

async function runGet (text: string, opts: Opts): Promise<void> {
  const cid = checkCid(text)
  const dataDir = dataDirOf(opts)
  await fetchWithProgress(dataDir, cid, { pin: opts.pin === true, filesOnly: opts.output === undefined })
  await writeObject(dataDir, cid, opts.output)
}

async function runLs (opts: Opts): Promise<void> {
  const answer = await apiGetChecked<{ objects: ObjectRecord[], usedBytes: number, quotaBytes: number }>(dataDirOf(opts), '/v1/content', LS_FIELDS)
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(answer, null, 2) + '\n')
    return
  }
  const lines = answer.objects.map((o) => [
    o.cid, o.type.padEnd(4), formatBytes(o.size).padStart(10), o.complete ? 'complete' : 'partial ', o.pinned ? 'pinned' : '-',
    new Date(o.lastUsedMs).toISOString()
  ].join('  '))
  lines.push(`${answer.objects.length} objects, ${formatBytes(answer.usedBytes)} of ${formatBytes(answer.quotaBytes)} used`)
  print(lines)
}

/** What `pin`, `unpin` and `forget` say of the record the node answered, after the verb. */
function recordLine (verb: 'pinned' | 'unpinned' | 'forgot', record: ObjectRecord): string {
  const what = `${record.type}, ${formatBytes(record.size)}${record.complete ? '' : ', partial'}`
  if (verb === 'unpinned') return `unpinned ${record.cid} (${what}): gc collects it once unused for the retention time`
  if (verb === 'forgot') return `forgot ${record.cid} (${what}${record.pinned ? ', was pinned' : ''}): gc frees its blocks`
  return `pinned ${record.cid} (${what})`
}

/**
 * `pin`, `unpin` and `forget`: the record the node answered, checked to the fields printed (a line, or the JSON
 * with `--json`). Before, the answer was printed as it came, one line of JSON whatever it held (`{}`, `null`).
 */
async function runRecordCommand (action: 'pin' | 'unpin' | 'forget', text: string, opts: Opts): Promise<void> {
  const route = `/v1/content/${checkCid(text)}/${action}`
  const record = await apiRequestChecked<ObjectRecord>(dataDirOf(opts), 'POST', route, {}, RECORD_ANSWER_FIELDS, LONG_REQUEST_MS)
  if (opts.json === true) printJson(record)
  else print(recordLine(action === 'pin' ? 'pinned' : action === 'unpin' ? 'unpinned' : 'forgot', record))
}

/** `gc`: what the round removed, or why it was skipped (checked like `pin`'s record). */
async function runGc (opts: Opts): Promise<void> {
  const result = await apiRequestChecked<GcAnswer>(dataDirOf(opts), 'POST', '/v1/content/gc', {}, GC_FIELDS, LONG_REQUEST_MS)
  if (opts.json === true) printJson(result)
  else if (result.skipped !== undefined) print(`gc skipped: ${result.skipped}; run it again`)
  else print(`gc removed ${result.removedObjects} objects and ${result.removedBlocks} blocks, freed ${formatBytes(result.freedBytes)}`)
}

async function runProviders (text: string, opts: Opts): Promise<void> {
  const cid = checkCid(text)
  type ProvidersAnswer = { providers: Array<{ peer: string, size: number, partial: boolean, expiresInMs: number, score: number }> }
  const answer = await apiGetChecked<ProvidersAnswer>(dataDirOf(opts), `/v1/content/${cid}/providers`, PROVIDERS_FIELDS)
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(answer, null, 2) + '\n')
    return
  }
  const lines = answer.providers.map((p) => `${p.peer}  ${p.partial ? 'partial ' : 'complete'}  score ${p.score}  expires in ${Math.round(p.expiresInMs / 1000)}s`)
  print(lines.length > 0 ? lines : '(no provider known)')
}

/** Adds `revoada content …` to the program. */
export function registerContentCommands (program: Command): void {
  const content = program.command('content').description('content-addressed files (BLAKE3 CIDs) shared by the cluster')
  content.command('add').argument('<path>', 'a file, a directory, or - for stdin')
    .description('add to this node\'s store and announce it; prints the CID')
    .option('--pin', 'keep it until unpinned (otherwise collected after the retention time)')
    .option('--json', 'print the object record').option('--data-dir <dir>', DATA_DIR_HELP)
    .action(runAdd)
  content.command('get').argument('<cid>', 'content id')
    .description('fetch from the swarm (every chunk verified) and write to -o PATH, or stdout for a file')
    .option('-o, --output <path>', 'file or directory to write').option('--pin', 'pin after fetching')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(runGet)
  content.command('ls').description('objects in this node\'s store').option('--json', 'print JSON').option('--data-dir <dir>', DATA_DIR_HELP)
    .action(runLs)
  content.command('pin').argument('<cid>').description('keep an object (fetching it first if needed)').option('--json', 'print the object record').option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (cid: string, opts: Opts) => { await runRecordCommand('pin', cid, opts) })
  content.command('unpin').argument('<cid>').description('let gc collect an object after the retention time').option('--json', 'print the object record').option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (cid: string, opts: Opts) => { await runRecordCommand('unpin', cid, opts) })
  content.command('forget').argument('<cid>').description('drop an object\'s record, partial (a fetch abandoned) or not, pinned or not; gc frees its blocks').option('--json', 'print the record dropped').option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (cid: string, opts: Opts) => { await runRecordCommand('forget', cid, opts) })
  content.command('gc').description('collect unpinned objects past retention and unreferenced blocks now').option('--json', 'print JSON').option('--data-dir <dir>', DATA_DIR_HELP)
    .action(runGc)
  content.command('providers').argument('<cid>').description('members that announced this content, with their scores').option('--json', 'print JSON').option('--data-dir <dir>', DATA_DIR_HELP)
    .action(runProviders)
}
