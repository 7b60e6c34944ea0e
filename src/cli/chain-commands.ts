/**
 * @module cli/chain-commands
 * `revoada chain …` (issue 14): the chain summary of the running node, export files, and offline
 * verification. `chain verify` needs no node when given a file: it checks the export against its own
 * genesis (or the one pinned with `--cluster` / `--first-voter`) and exits 1 naming the first failing
 * height and the reason; `--against OTHER` also checks that one export extends the other.
 */
import { readFile, stat } from 'node:fs/promises'
import type { Command } from 'commander'
import { ApiRequestError, NodeNotRunningError, apiGetChecked, errorBodyText, readApiFile } from '../api/index.js'
import type { AnswerFields } from '../api/index.js'
import { checkConsistency, decodeChainExport, verifyChain } from '../attestation/core/index.js'
import type { VerifyReport } from '../attestation/core/index.js'
import { EXPORT_FILE_BYTES_MAX } from '../attestation/constants.js'
import { ExportFileTooLargeError } from '../attestation/errors.js'
import { verifyWithCodec } from '../attestation/signatures.js'
import type { ChainSummary } from '../attestation/reader.js'
import { CliInputError, DECIMAL_DIGITS } from './validate.js'
import { print, printable } from './output.js'
import { writeFileDurably } from '../util/durable-file.js'

const DATA_DIR_HELP = 'data directory (default: $REVOADA_DATA_DIR or ./.revoada)'
const EXPORT_TIMEOUT_MS = 120_000

const dataDirOf = (opts: { dataDir?: string }): string => opts.dataDir ?? process.env.REVOADA_DATA_DIR ?? './.revoada'

/**
 * The fields of `GET /v1/chain` the CLI prints, the last seal's and its witnesses' too (checkAnswer): a seal
 * that was no object, or absent rather than null, ended `chain` in a TypeError.
 */
const CHAIN_FIELDS: AnswerFields = {
  clusterId: 'string', firstVoter: 'string', height: 'number', head: 'string', firstStoredHeight: 'number', sealedHeight: 'number',
  voters: 'strings', headWitnesses: 'strings',
  lastSeal: { record: { blockHeight: 'number', sealedHeight: 'number', head: 'string', witnesses: { list: { nodeId: 'string', voter: 'boolean' } } }, nullable: true }
}

async function runChain (opts: { dataDir?: string, json?: boolean }): Promise<void> {
  const summary = await apiGetChecked<ChainSummary>(dataDirOf(opts), '/v1/chain', CHAIN_FIELDS)
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
    return
  }
  const seal = summary.lastSeal
  const lines = [
    `Cluster:      ${summary.clusterId}`,
    `First voter:  ${summary.firstVoter}`,
    `Height:       ${summary.height}${summary.firstStoredHeight > 1 ? ` (blocks stored from ${summary.firstStoredHeight})` : ''}`,
    `Head:         ${summary.head}`,
    `Sealed up to: ${summary.sealedHeight}`,
    `Voters:       ${summary.voters.join(', ')}`,
    seal === null
      ? 'Last seal:    none'
      : `Last seal:    block ${seal.blockHeight} seals height ${seal.sealedHeight} (${seal.head})`,
    ...(seal?.witnesses ?? []).map((w) => `              ${w.voter ? 'voter  ' : 'learner'} ${w.nodeId}`),
    `Head witnessed by ${summary.headWitnesses.length}: ${summary.headWitnesses.join(', ')}`
  ]
  print(lines)
}

/**
 * The export file bytes from the running node.
 * @throws ExportFileTooLargeError once the answer declares or passes EXPORT_FILE_BYTES_MAX (the rest is not read)
 */
async function fetchExport (dataDir: string, from: number | undefined): Promise<Uint8Array> {
  const api = await readApiFile(dataDir)
  const url = new URL(`/v1/chain/export${from !== undefined ? `?from=${from}` : ''}`, api.url)
  let res: Response
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${api.token}` }, signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS) })
  } catch (err) {
    throw new NodeNotRunningError(dataDir, `${api.url} did not answer: ${(err as Error).message}`)
  }
  if (!res.ok) throw new ApiRequestError(url.pathname, res.status, await errorBodyText(res))
  return await readAnswer(url.href, res, EXPORT_FILE_BYTES_MAX)
}

/** The body of `res`, read chunk by chunk and refused as soon as it declares or passes `bytesMax`. */
async function readAnswer (what: string, res: Response, bytesMax: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? 0)
  if (declared > bytesMax) {
    await res.body?.cancel()
    throw new ExportFileTooLargeError(what, declared, bytesMax)
  }
  const chunks: Uint8Array[] = []
  let bytes = 0
  if (res.body !== null) {
    for await (const chunk of res.body) {
      bytes += chunk.length
      // NB: ends the loop, which cancels the stream: the node stops sending.
      if (bytes > bytesMax) throw new ExportFileTooLargeError(what, bytes, bytesMax, true)
      chunks.push(chunk)
    }
  }
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(bytes)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}

function parseHeight (text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const height = DECIMAL_DIGITS.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(height) || height < 1) throw new CliInputError(`--from must be a height >= 1, got ${text}`)
  return height
}

async function runExport (opts: { dataDir?: string, from?: string, output?: string }): Promise<void> {
  const bytes = await fetchExport(dataDirOf(opts), parseHeight(opts.from))
  if (opts.output !== undefined) {
    // Temp file, fsync, rename: a write that fails part way (a full disk) leaves the file that was there, not a
    // truncated export under its name.
    await writeFileDurably(opts.output, bytes, { mode: 0o644 }).catch((err: NodeJS.ErrnoException) => {
      // The operator's path, not the node: named as the input it is, not as a bare errno (exit 1).
      if (['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EROFS'].includes(err.code ?? '')) throw new CliInputError(`-o ${opts.output}: cannot write it (${err.code})`)
      throw err
    })
    process.stderr.write(`wrote ${bytes.length} bytes to ${opts.output}\n`)
  } else {
    process.stdout.write(bytes)
  }
}

/**
 * An export file's bytes, read whole.
 * @throws ExportFileTooLargeError beyond EXPORT_FILE_BYTES_MAX (the verifier's limit; readFile's own, 2 GiB, is a
 *   bare RangeError), before reading it
 */
async function readExportFile (what: string, file: string): Promise<Uint8Array> {
  const unreadable = (err: unknown): CliInputError =>
    new CliInputError(`${what} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  const { size } = await stat(file).catch((err: unknown) => { throw unreadable(err) })
  if (size > EXPORT_FILE_BYTES_MAX) throw new ExportFileTooLargeError(file, size, EXPORT_FILE_BYTES_MAX)
  let buffer: Buffer
  try {
    buffer = await readFile(file)
  } catch (err) {
    // NB: the file grew past the limit between the stat and the read.
    if ((err as { code?: unknown }).code === 'ERR_FS_FILE_TOO_LARGE') throw new ExportFileTooLargeError(file, (await stat(file)).size, EXPORT_FILE_BYTES_MAX)
    // A directory (EISDIR), a missing file: the operator's path, exit 3 (exit 1 is a failed verification).
    throw unreadable(err)
  }
  // NB: the file grew between the stat and the read, below readFile's own limit.
  if (buffer.byteLength > EXPORT_FILE_BYTES_MAX) throw new ExportFileTooLargeError(file, buffer.byteLength, EXPORT_FILE_BYTES_MAX)
  // A view of readFile's buffer, not a copy of it (up to 1 GiB).
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

interface VerifyOpts { dataDir?: string, against?: string, cluster?: string, firstVoter?: string, json?: boolean }

/** Verifies one export (a file, or the running node's); exits 1 on the first failure. */
async function verifyOne (label: string, bytes: Uint8Array, opts: VerifyOpts): Promise<VerifyReport | null> {
  const exp = decodeChainExport(bytes)
  if (exp === null) {
    fail(label, 'MalformedExportError', 0, 'not a revoada chain export')
    return null
  }
  const pinned = { ...(opts.cluster !== undefined ? { clusterId: opts.cluster } : {}), ...(opts.firstVoter !== undefined ? { firstVoter: opts.firstVoter } : {}) }
  try {
    return verifyChain(exp, { verify: verifyWithCodec, pinned })
  } catch (err) {
    const e = err as Error & { height?: number, reason?: string }
    if (e.height === undefined) throw err
    fail(label, e.name, e.height, e.reason ?? e.message)
    return null
  }
}

function fail (label: string, name: string, height: number, message: string): void {
  process.stderr.write(printable(`${label}: FAILED at height ${height}: ${name}: ${message}`) + '\n')
  process.exitCode = 1
}

/** The report's lines: the verdict, then one per quorum recovery (each escaped by `print`). */
function describeReport (label: string, r: VerifyReport): string[] {
  const covered = Math.max(r.sealedHeight, r.checkpointHeight)
  const tail = r.height - covered
  return [`${label}: OK — cluster ${r.genesis.clusterId}, heights ${r.fromHeight}..${r.height}, head ${r.head}, ` +
    `${r.seals} seals, sealed up to ${r.sealedHeight}${r.checkpointHeight > 0 ? `, checkpoint at ${r.checkpointHeight}` : ''}` +
    (tail > 0 ? ` (${tail} newest blocks not yet witnessed)` : '') +
    (r.fromHeight > 1 ? ` (starts from a base state at ${r.fromHeight - 1}: pin it or check --against a full export)` : ''),
  ...r.recoveries.map((q) => `${label}: quorum recovery at height ${q.height}: ${q.proposer} demoted ${q.demoted} as lost; ` +
    'seals after it rest on the voters it left: check --against an export from a node you trust')]
}

async function runVerify (file: string | undefined, opts: VerifyOpts): Promise<void> {
  const label = file ?? 'node'
  const bytes = file !== undefined ? await readExportFile('export file', file) : await fetchExport(dataDirOf(opts), undefined)
  const report = await verifyOne(label, bytes, opts)
  if (report === null) return
  let relation: string | undefined
  if (opts.against !== undefined) {
    const other = await verifyOne(opts.against, await readExportFile('--against', opts.against), opts)
    if (other === null) return
    try {
      const verdict = checkConsistency(report, other)
      relation = verdict === 'equal' ? 'the exports end at the same head' : verdict === 'first-extends' ? `${label} extends ${opts.against}` : `${opts.against} extends ${label}`
    } catch (err) {
      const e = err as Error & { height: number, reason?: string }
      fail(`${label} vs ${opts.against}`, e.name, e.height, e.reason ?? e.message)
      return
    }
  }
  if (opts.json === true) {
    const { cids: _cids, ...rest } = report
    process.stdout.write(JSON.stringify({ ok: true, ...rest, ...(relation !== undefined ? { relation } : {}) }, null, 2) + '\n')
    return
  }
  print(describeReport(label, report))
  if (relation !== undefined) print(relation)
}

/** Adds `chain`, `chain export` and `chain verify`. */
export function registerChainCommands (program: Command): void {
  const chain = program.command('chain')
    .description('the attestation chain: height, head, last seal and its witnesses')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print the JSON answer')
    .action(runChain)
  chain.command('export')
    .description('write the chain as an export file (all stored blocks, or from a height)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--from <height>', 'first height to export')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    // `--data-dir` may be given before or after the subcommand: both land in the merged options.
    .action((_opts: unknown, command: Command) => runExport(command.optsWithGlobals()))
  chain.command('verify')
    .description('verify an export offline (or the running node\'s chain); exit 1 naming the first failing height')
    .argument('[file]', 'export file (default: export the running node\'s chain)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--against <other>', 'also check that one export extends the other')
    .option('--cluster <id>', 'pin the cluster id')
    .option('--first-voter <nodeId>', 'pin the genesis voter (its NodeId carries its key)')
    .option('--json', 'print the report as JSON')
    .action((file: string | undefined, _opts: unknown, command: Command) => runVerify(file, command.optsWithGlobals()))
}
