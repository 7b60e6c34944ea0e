/**
 * @module cli/output
 * How commands print: human tables (a header row, aligned columns) by default, `--json` for scripts. Command
 * output goes to stdout; errors and progress to stderr.
 */

/**
 * What a terminal would act on rather than show: C0 controls (ESC among them), DEL, C1 controls (0x9b is a
 * one-byte CSI), the line and paragraph separators and the bidi overrides and isolates (which reorder what
 * follows them). A backslash too, so an escape in the output always means an escaped character.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/g
const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * `text` safe to write to a terminal: every character of TERMINAL_UNSAFE printed as an escape (`\x1b`,
 * `\u202e`, `\r`, `\\`). For text that others supply (peers' labels), in human output only: `--json` keeps it exact.
 */
export function printable (text: string): string {
  return text.replace(TERMINAL_UNSAFE, (c) => {
    const code = c.charCodeAt(0)
    return NAMED_ESCAPES[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`)
  })
}

/** Pads columns to their widest cell; the first row is the header. Cells are printed escaped (`printable`). */
export function table (rows: string[][]): string {
  const safe = rows.map((row) => row.map(printable))
  const widths: number[] = []
  for (const row of safe) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  return safe.map((row) => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n'
}

export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/**
 * Human output, one element per line, each printed escaped (`printable`): most of it carries text that peers,
 * templates or the API supplied (names, labels, outcome and event messages), and a newline inside such text is
 * shown as `\n` rather than starting a line of its own.
 */
export function print (lines: string | readonly string[]): void {
  process.stdout.write((typeof lines === 'string' ? [lines] : lines).map(printable).join('\n') + '\n')
}

/** A table already escaped cell by cell (`table`), written as it is. */
export function printTable (rows: string[][]): void {
  process.stdout.write(table(rows))
}

/** Exact text for scripts (`status --get`, the join string), never escaped: like `--json`. */
export function printExact (text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n')
}

/**
 * A progress, notice or error line for a human (stderr, so stdout stays parseable), each of its lines printed
 * escaped: a configuration error lists its problems on lines of their own.
 */
export function note (text: string): void {
  process.stderr.write(escapeLines(`revoada: ${text}`))
}

function escapeLines (text: string): string {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text
  return body.split('\n').map(printable).join('\n') + '\n'
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
