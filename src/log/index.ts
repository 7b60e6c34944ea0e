/**
 * @module log
 * The process logger: pino, one namespaced child per component (`revoada:net`, `revoada:api` …) so a line
 * always says which layer wrote it (STYLE §20). Structured JSON on stderr by default; `format: 'pretty'`
 * (the CLI's choice when stderr is a terminal) turns each line into `12:03:04.567 INFO  net  message key=value`.
 * Stdout stays free for command output (`revoada id`, `status --json`), which scripts parse.
 */
import { Writable } from 'node:stream'
import { pino } from 'pino'
import type { Logger as PinoLogger } from 'pino'

import { formatLogLine } from './format.js'
import { guardStdio } from './stdio-guard.js'
import type { LogFormat, LogLevel } from './levels.js'

export { LOG_FORMATS, LOG_LEVELS } from './levels.js'
export { formatLogLine } from './format.js'
export type { LogFormat, LogLevel } from './levels.js'

/** A structured logger; every component receives one from its parent via `forComponent`. */
export interface Logger {
  fatal: PinoLogger['fatal']
  error: PinoLogger['error']
  warn: PinoLogger['warn']
  info: PinoLogger['info']
  debug: PinoLogger['debug']
  trace: PinoLogger['trace']
  /** A child logger whose lines carry `component: '<parent>:<name>'`. */
  forComponent: (name: string) => Logger
}

function wrap (root: PinoLogger, inner: PinoLogger, component: string): Logger {
  return {
    fatal: inner.fatal.bind(inner),
    error: inner.error.bind(inner),
    warn: inner.warn.bind(inner),
    info: inner.info.bind(inner),
    debug: inner.debug.bind(inner),
    trace: inner.trace.bind(inner),
    forComponent: (name: string) => {
      const child = `${component}:${name}`
      // Children bind from the root: pino would repeat the `component` key if nested bindings were used.
      return wrap(root, root.child({ component: child }), child)
    }
  }
}

/**
 * Creates the root logger (`component: 'revoada'`) writing JSON lines to stderr.
 *
 * @example
 * ```ts
 * const log = createLogger('info').forComponent('net')
 * log.info({ peer }, 'connected')
 * ```
 */
export function createLogger (level: LogLevel, destination: NodeJS.WritableStream = process.stderr, format: LogFormat = 'json'): Logger {
  // A failed write to stderr (a full disk it is redirected to) must not end the process (stdio-guard.ts).
  if (destination === process.stderr) guardStdio()
  const sink = format === 'pretty' ? prettySink(destination) : destination
  const root = pino({ level, base: { pid: process.pid } }, sink)
  return wrap(root, root.child({ component: 'revoada' }), 'revoada')
}

/** A logger that drops everything; for tests and library use. */
export function silentLogger (): Logger {
  return createLogger('silent')
}

/** A stream that formats each JSON line written to it and writes the result to `out`. */
function prettySink (out: NodeJS.WritableStream): Writable {
  let pending = ''
  return new Writable({
    write (chunk: Buffer, _encoding, callback) {
      pending += chunk.toString()
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      if (lines.length > 0) out.write(lines.map(formatLogLine).join('\n') + '\n')
      callback()
    }
  })
}
