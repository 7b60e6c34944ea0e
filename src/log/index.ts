/**
 * @module log
 * The process logger: pino, structured JSON on stderr, one namespaced child per component
 * (`revoada:net`, `revoada:api` …) so a line always says which layer wrote it (STYLE §20). Stdout stays free
 * for command output (`revoada id`, `status --json`), which scripts parse.
 */
import { pino } from 'pino'
import type { Logger as PinoLogger } from 'pino'

/** The levels accepted by config and `--log-level`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

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
export function createLogger (level: LogLevel, destination: NodeJS.WritableStream = process.stderr): Logger {
  const root = pino({ level, base: { pid: process.pid } }, destination)
  return wrap(root, root.child({ component: 'revoada' }), 'revoada')
}

/** A logger that drops everything; for tests and library use. */
export function silentLogger (): Logger {
  return createLogger('silent')
}
