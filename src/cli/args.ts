/**
 * @module cli/args
 * Parsing of CLI argument forms that are not plain strings.
 */

import { CliInputError } from './validate.js'

/**
 * Parses `HOST:PORT` (IPv6 as `[::1]:PORT`) into the config's `api` fields.
 * @throws CliInputError (exit 3) for anything else
 */
export function parseHostPort (value: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value)
  const host = m?.[1] ?? m?.[2]
  const port = Number(m?.[3])
  if (host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new CliInputError(`--api: expected HOST:PORT (e.g. 127.0.0.1:0), got "${value}"`)
  }
  return { host, port }
}
