/**
 * @module bench/lib/stats
 * Small, dependency-free statistics for benchmark output: percentiles over recorded latencies and a
 * fixed-width table printer, so every benchmark prints figures the same way.
 */

/** The q-quantile (0..1) of `values` by nearest rank; NaN for an empty list. */
export function quantile (values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] as number
}

export function median (values: readonly number[]): number {
  return quantile(values, 0.5)
}

/** Prints rows as an aligned Markdown table (also valid to paste into docs/). */
export function printTable (headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = [headers.map(String), ...rows.map((row) => row.map((c) => typeof c === 'number' ? formatNumber(c) : c))]
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)))
  const line = (row: readonly string[]): string => '| ' + row.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ') + ' |'
  const out = [line(cells[0] ?? []), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.slice(1).map(line)]
  const text = out.join('\n')
  console.log(text)
  return text
}

export function formatNumber (value: number): string {
  if (!Number.isFinite(value)) return String(value)
  if (Number.isInteger(value)) return value.toLocaleString('en-US')
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US')
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

/** Describes the machine a benchmark ran on, for the figures' provenance. */
export async function machineDescription (): Promise<string> {
  const os = await import('node:os')
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu'
  const memoryGiB = (os.totalmem() / 2 ** 30).toFixed(0)
  return `${os.cpus().length} cores (${cpu}), ${memoryGiB} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`
}
