/**
 * @module test/fuzz/targets/config-file
 * `loadConfig({ file })` on an untrusted config file (written to tmpfs, one file reused). The input is the
 * file's bytes; structure-aware inputs are a valid config object with damaged fields, as JSON.
 * Accepted configs must validate again unchanged (the schema is idempotent on its own output).
 */
import fs from 'node:fs'
import path from 'node:path'
import { configSchema, loadConfig } from '../../../src/config/index.js'
import { damageValue } from '../values.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'
import { scratchDir } from '../scratch.js'

const VALID = {
  dataDir: '/var/lib/revoada',
  listen: ['/ip4/0.0.0.0/tcp/4101'],
  announce: ['/ip4/203.0.113.7/tcp/4101'],
  logLevel: 'info',
  api: { host: '127.0.0.1', port: 0, allowNonLoopback: false },
  net: { mdns: false, pingIntervalMs: 1000, pingTimeoutMs: 1000, redialIntervalMs: 1000, redialBackoffMinMs: 500, redialBackoffMaxMs: 15000, dialTimeoutMs: 5000 },
  raft: { tickMs: 100, electionTicks: 10, heartbeatTicks: 1, snapshotEveryEntries: 1000, retainEntries: 100 },
  membership: { heartbeatIntervalMs: 500, phiThreshold: 8, labels: { zone: 'a' }, kubernetesVersion: '1.31.0' },
  policy: { enabled: true, strategy: 'auto-replacement', auditIntervalMs: 30000, stabilizationMs: 10000 }
}

/** JSON with BigInt as a (lossy) number literal and bytes as arrays: what a hand-edited file could hold. */
function toJson (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => typeof v === 'bigint' ? Number(v) : v instanceof Uint8Array ? [...v] : v) ?? 'null'
}

let file: string | undefined

export const configFileTarget: FuzzTarget = {
  name: 'config-file',
  description: 'config file bytes → loadConfig (typed ConfigFileError/ConfigInvalidError or a config that validates again)',
  typedErrors: ['ConfigFileError', 'ConfigInvalidError'],
  corpus: () => [Buffer.from(toJson(VALID)), Buffer.from('{}'), Buffer.from('{"api":{"port":65535},"listen":"/ip4/127.0.0.1/tcp/1,/ip6/::1/tcp/2"}')],
  generate: (rng) => Buffer.from(toJson(damageValue(rng, VALID))),
  run (input) {
    file ??= path.join(scratchDir('config'), 'config.json')
    fs.writeFileSync(file, input)
    const config = loadConfig({ file })
    const again = configSchema.safeParse(config)
    invariant(again.success, () => `accepted config does not validate again: ${again.error?.message ?? ''}`)
    invariant(toJson(again.data) === toJson(config), 'config validation is not idempotent')
  },
  close () {
    if (file !== undefined) fs.rmSync(path.dirname(file), { recursive: true, force: true })
    file = undefined
  }
}

