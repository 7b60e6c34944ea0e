/**
 * @module cli/output
 * How commands print: human tables (a header row, aligned columns) by default, `--json` for scripts. Command
 * output goes to stdout; errors and progress to stderr.
 */

/** Pads columns to their widest cell; the first row is the header. */
export function table (rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  return rows.map((row) => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n'
}

export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

export function print (text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n')
}

/** A progress or notice line for a human (stderr, so stdout stays parseable). */
export function note (text: string): void {
  process.stderr.write(`revoada: ${text}\n`)
}

/** `a=1 b=2` for a record. */
export function pairs (record: Record<string, unknown>): string {
  return Object.entries(record).map(([k, v]) => `${k}=${String(v)}`).join(' ')
}

/** The value at `path` (`a.b.0`) of a JSON value, printed bare for scripts (`status --get pid`). */
export function pick (value: unknown, path: string): unknown {
  let current: unknown = value
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string, unknown>)[key]
  }
  return current
}

export function bare (value: unknown): string {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return value.map((v) => typeof v === 'string' ? v : JSON.stringify(v)).join('\n')
  return JSON.stringify(value)
}
