/**
 * @module log/levels
 * The names the logger accepts, importable without loading pino (the CLI's `--help` needs them).
 */

/** The levels accepted by config and `--log-level`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/** `json`: one JSON object per line (for machines and files); `pretty`: one readable line (for a terminal). */
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = typeof LOG_FORMATS[number]
