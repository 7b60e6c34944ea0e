/**
 * @module config
 * Builds the node configuration from three sources, later ones winning: a JSON file < `REVOADA_*`
 * environment variables < command-line flags. The merged object is validated once by the strict zod schema
 * (config/schema.ts); any unknown key or bad value fails with a message naming the key and its source.
 *
 * Environment mapping: `REVOADA_LOG_LEVEL=debug` → `logLevel`, `REVOADA_NET__PING_INTERVAL_MS=500` →
 * `net.pingIntervalMs` (`__` nests, snake case becomes camel case). Values are parsed as JSON when they
 * parse (numbers, booleans, arrays), otherwise taken as strings; lists also accept `a,b`.
 */
import { readFileSync, statSync } from 'node:fs'
import { z } from 'zod'
import { configSchema } from './schema.js'
import type { Config, ConfigInput } from './schema.js'
import { CONFIG_FILE_BYTES_MAX, ENV_PREFIX } from './constants.js'
import { ConfigFileError, ConfigInvalidError } from './errors.js'

export { configSchema, apiSection, netSection, raftSection, membershipSection } from './schema.js'
export type { Config, ConfigInput } from './schema.js'
export { ConfigFileError, ConfigInvalidError } from './errors.js'
export * as configDefaults from './constants.js'

type Tree = Record<string, unknown>

/** Where the configuration comes from. */
export interface ConfigSources {
  /** Path of a JSON config file. */
  file?: string
  /** Environment (defaults to none; the CLI passes `process.env`). */
  env?: Record<string, string | undefined>
  /** Already-structured flag values (same shape as the file). */
  flags?: ConfigInput
}

/**
 * Loads, merges and validates configuration.
 *
 * @throws ConfigFileError when the file cannot be read or parsed
 * @throws ConfigInvalidError when a key is unknown or a value is bad; the message names each key
 */
export function loadConfig (sources: ConfigSources = {}): Config {
  const layers: Array<[string, Tree]> = []
  if (sources.file !== undefined) layers.push([`file ${sources.file}`, readConfigFile(sources.file)])
  if (sources.env !== undefined) layers.push(['environment', envToTree(sources.env)])
  if (sources.flags !== undefined) layers.push(['flags', dropUndefined(sources.flags as Tree)])
  const merged: Tree = {}
  const origin = new Map<string, string>()
  for (const [name, layer] of layers) mergeInto(merged, layer, name, origin, [])
  const result = configSchema.safeParse(merged)
  if (result.success) return result.data
  throw new ConfigInvalidError(describeIssues(result.error, origin))
}

function readConfigFile (file: string): Tree {
  let text: string
  try {
    if (statSync(file).size > CONFIG_FILE_BYTES_MAX) throw new Error(`larger than ${CONFIG_FILE_BYTES_MAX} bytes`)
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigFileError(file, `cannot read: ${(err as Error).message}`, err)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigFileError(file, `not valid JSON: ${(err as Error).message}`, err)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigFileError(file, 'must hold a JSON object')
  }
  return parsed as Tree
}

function snakeToCamel (s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())
}

/** Turns `REVOADA_NET__PING_INTERVAL_MS=500` into `{ net: { pingIntervalMs: 500 } }`. */
export function envToTree (env: Record<string, string | undefined>): Tree {
  const tree: Tree = {}
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || raw === undefined) continue
    const parts = key.slice(ENV_PREFIX.length).split('__').map(snakeToCamel)
    let node = tree
    for (const part of parts.slice(0, -1)) {
      const next = node[part]
      node = (typeof next === 'object' && next !== null) ? next as Tree : (node[part] = {}) as Tree
    }
    node[parts[parts.length - 1] as string] = parseEnvValue(raw)
  }
  return tree
}

function parseEnvValue (raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

function dropUndefined (tree: Tree): Tree {
  const out: Tree = {}
  for (const [k, v] of Object.entries(tree)) {
    if (v === undefined) continue
    out[k] = (typeof v === 'object' && v !== null && !Array.isArray(v)) ? dropUndefined(v as Tree) : v
  }
  return out
}

function mergeInto (target: Tree, layer: Tree, source: string, origin: Map<string, string>, at: string[]): void {
  for (const [k, v] of Object.entries(layer)) {
    const keyPath = [...at, k]
    const isTree = typeof v === 'object' && v !== null && !Array.isArray(v)
    // NB: own keys only, and defineProperty to write: a file key "__proto__" would otherwise read
    // Object.prototype here and merge the file's values into every object of the process (prototype
    // pollution, found by `npm run fuzz -- --target config-file`). As an own key it is just an unknown
    // key the strict schema names.
    const existing = Object.hasOwn(target, k) ? target[k] : undefined
    if (isTree && typeof existing === 'object' && existing !== null && !Array.isArray(existing)) {
      mergeInto(existing as Tree, v as Tree, source, origin, keyPath)
      continue
    }
    Object.defineProperty(target, k, { value: isTree ? structuredClone(v) : v, enumerable: true, writable: true, configurable: true })
    markOrigin(origin, keyPath, v, source)
  }
}

function markOrigin (origin: Map<string, string>, keyPath: string[], v: unknown, source: string): void {
  origin.set(keyPath.join('.'), source)
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    for (const [k, child] of Object.entries(v)) markOrigin(origin, [...keyPath, k], child, source)
  }
}

function describeIssues (error: z.ZodError, origin: Map<string, string>): string[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String)
    const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...base, k]) : [base]
    return keys.map((keyPath) => {
      const name = keyPath.join('.')
      const from = origin.get(name) ?? origin.get(base.join('.'))
      const where = from !== undefined ? ` (from ${from})` : ''
      const what = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message
      return `${name === '' ? '<root>' : name}: ${what}${where}`
    })
  })
}
