/**
 * @module cli/materializer-commands
 * `revoada manifests` (what this node materialized) and `revoada catalog` / `catalog set` (the role catalog,
 * issue 15). Talk to the running node's admin API.
 */
import { readInputFile } from './common.js'
import path from 'node:path'
import type { Command } from 'commander'
import { apiGetChecked, apiRequestChecked } from '../api/index.js'
import type { AnswerFields } from '../api/index.js'
import { CliInputError } from './validate.js'
import { TEMPLATE_BYTES_MAX } from '../materializer/core/index.js'
import { print } from './output.js'

const DATA_DIR_HELP = 'data directory (default: $REVOADA_DATA_DIR or ./.revoada)'
const ROLES = ['api-server', 'etcd', 'scheduler', 'controller-manager']

const dataDirOf = (opts: { dataDir?: string }): string => opts.dataDir ?? process.env.REVOADA_DATA_DIR ?? './.revoada'

interface ManifestsAnswer {
  manifestDir: string
  roles: string[]
  files: Array<{ name: string, role: string, templateCid: string, manifestCid: string, writtenAtMs: number }>
  hooksPending: number
  events: Array<{ atMs: number, kind: string, message: string }>
}

/** The fields of `GET /v1/manifests` the CLI prints, each file's and event's too (checkAnswer). */
const MANIFESTS_FIELDS: AnswerFields = {
  manifestDir: 'string', roles: 'strings', hooksPending: 'number',
  files: { list: { name: 'string', role: 'string', writtenAtMs: 'time', manifestCid: 'string' } },
  events: { list: { atMs: 'time', kind: 'string', message: 'string' } }
}
/** The fields of `GET /v1/catalog` the CLI prints, each role's templates too (checkAnswer). */
const CATALOG_FIELDS: AnswerFields = { catalog: { list: { role: 'string', source: 'string', templates: { list: { name: 'string', cid: 'string' } } } } }
/** The fields of `POST /v1/catalog`'s answer the CLI prints (checkAnswer). */
const CATALOG_SET_FIELDS: AnswerFields = {
  outcome: { record: { kind: 'string', message: 'string?' } }, index: 'number', templates: { list: { name: 'string', cid: 'string' }, optional: true }
}

async function runManifests (opts: { dataDir?: string, json?: boolean }): Promise<void> {
  const answer = await apiGetChecked<ManifestsAnswer>(dataDirOf(opts), '/v1/manifests', MANIFESTS_FIELDS)
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(answer, null, 2) + '\n')
    return
  }
  const lines = [`Manifest dir: ${answer.manifestDir}`, `Roles:        ${answer.roles.length > 0 ? answer.roles.join(', ') : '(none: a worker)'}`]
  if (answer.files.length === 0) lines.push('(no manifests)')
  else {
    lines.push(['FILE'.padEnd(30), 'ROLE'.padEnd(19), 'WRITTEN'.padEnd(24), 'MANIFEST CID'].join(' '))
    for (const f of answer.files) lines.push([f.name.padEnd(30), f.role.padEnd(19), new Date(f.writtenAtMs).toISOString().padEnd(24), f.manifestCid].join(' '))
  }
  const problems = answer.events.filter((e) => e.kind === 'error' || e.kind === 'conflict' || e.kind === 'hook-failed').slice(-5)
  for (const e of problems) lines.push(`! ${new Date(e.atMs).toISOString()} ${e.kind}: ${e.message}`)
  if (answer.hooksPending > 0) lines.push(`${answer.hooksPending} hook run(s) pending`)
  print(lines)
}

interface CatalogAnswer {
  catalog: Array<{ role: string, source: string, templates: Array<{ name: string, cid: string }> }>
}

async function runCatalog (opts: { dataDir?: string, json?: boolean }): Promise<void> {
  const answer = await apiGetChecked<CatalogAnswer>(dataDirOf(opts), '/v1/catalog', CATALOG_FIELDS)
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(answer, null, 2) + '\n')
    return
  }
  const lines = [['ROLE'.padEnd(19), 'SOURCE'.padEnd(10), 'TEMPLATE'.padEnd(30), 'CID'].join(' ')]
  for (const entry of answer.catalog) {
    for (const t of entry.templates) lines.push([entry.role.padEnd(19), entry.source.padEnd(10), t.name.padEnd(30), t.cid].join(' '))
  }
  print(lines)
}

async function runCatalogSet (opts: { dataDir?: string, role?: string, file?: string[], reset?: boolean, json?: boolean }): Promise<void> {
  if (opts.role === undefined || !ROLES.includes(opts.role)) throw new CliInputError(`--role must be one of ${ROLES.join(', ')}`)
  const files = opts.file ?? []
  if (files.length === 0 && opts.reset !== true) throw new CliInputError('give one or more --file F (or --reset to restore the default templates)')
  if (files.length > 0 && opts.reset === true) throw new CliInputError('--reset takes no --file')
  const templates = []
  for (const file of files) templates.push({ name: path.basename(file), text: (await readInputFile('--file', file, TEMPLATE_BYTES_MAX)).toString('utf8') })
  type CatalogSetAnswer = { outcome: { kind: string, message?: string }, index: number, templates?: Array<{ name: string, cid: string }> }
  const result = await apiRequestChecked<CatalogSetAnswer>(dataDirOf(opts), 'POST', '/v1/catalog', { role: opts.role, templates }, CATALOG_SET_FIELDS, 60_000)
  if (opts.json === true) process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  else if (result.outcome.kind === 'applied') {
    print([`catalog of ${opts.role} committed at index ${result.index}`, ...(result.templates ?? []).map((t) => `  ${t.name}  ${t.cid}`)])
  } else print(`rejected: ${result.outcome.message ?? JSON.stringify(result.outcome)}`)
  if (result.outcome.kind !== 'applied') process.exitCode = 2
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

export function registerMaterializerCommands (program: Command): void {
  program.command('manifests')
    .description('the static-pod manifests this node materialized for its roles, with their CIDs')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .action(runManifests)
  const catalog = program.command('catalog')
    .description('the role catalog: which manifest templates each control-plane role renders')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .action(runCatalog)
  catalog.command('set')
    .description('store templates in the content layer and commit them as a role\'s catalog')
    .requiredOption('--role <role>', ROLES.join(' | '))
    .option('--file <path>', 'a manifest template (YAML with {{variables}}), repeatable', collect)
    .option('--reset', 'restore the build\'s default templates for the role')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    // NB: `catalog` defines `--data-dir` and `--json` too, and Commander lets the parent consume them wherever
    // they stand (even after `set`): only the merged options see them (as `chain export` does).
    .action((_opts: unknown, command: Command) => runCatalogSet(command.optsWithGlobals()))
}
