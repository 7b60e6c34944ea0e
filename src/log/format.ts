/**
 * @module log/format
 * The `pretty` log format: one pino JSON line as a readable line (`12:03:04.567 INFO  consensus  message key=value`).
 */

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
/** Keys every line has, shown in the line's head rather than as `key=value`. */
const HEAD_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'component', 'msg'])

/** One pino JSON line as a human line; a line that is not JSON is passed through. */
export function formatLogLine (line: string): string {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : ''
  const level = (LEVEL_NAMES[Number(record.level)] ?? String(record.level)).padEnd(5)
  const component = String(record.component ?? '').replace(/^revoada:?/, '') || 'node'
  const rest = Object.entries(record).filter(([k]) => !HEAD_KEYS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
  return [time, level, component.padEnd(10), String(record.msg ?? ''), ...rest].join(' ').trimEnd()
}
