/**
 * docs/OBSERVABILITY.md's metrics table is what operators build dashboards and alerts from, so it must match
 * what a node serves. Method: start a lone node with every default layer, scrape its admin API once it leads,
 * and compare with the table row by row: every documented metric is served with the documented type and label,
 * every served metric is documented, and a gauge the table gives to a running layer has a sample.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { promises as fs, readFileSync } from 'node:fs'
import path from 'node:path'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import { readApiFile } from '../../src/api/index.js'
import { REPO } from '../cli/helpers.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

let node: RevoadaNode | undefined
let dir = ''
afterEach(async () => {
  await node?.stop()
  node = undefined
  if (dir !== '') await fs.rm(dir, { recursive: true, force: true })
  dir = ''
})

interface DocumentedMetric { name: string, type: string, label: string | undefined }

/** The rows of the metrics table: `| \`name{label}\`, \`name\` | type | … |`. */
function documentedMetrics (): DocumentedMetric[] {
  const markdown = readFileSync(path.join(REPO, 'docs/OBSERVABILITY.md'), 'utf8')
  const out: DocumentedMetric[] = []
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('| `revoada_')) continue
    const [names = '', type = ''] = line.split('|').slice(1).map((cell) => cell.trim())
    for (const m of names.matchAll(/`(revoada_\w+)(?:\{(\w+)\})?`/g)) out.push({ name: m[1] as string, type, label: m[2] })
  }
  return out
}

/** The exposition's `# TYPE` lines, and its samples by metric name (histogram series folded into theirs). */
function parseExposition (text: string): { types: Map<string, string>, samples: Map<string, string[]> } {
  const types = new Map<string, string>()
  const samples = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) types.set(type[1] as string, type[2] as string)
    if (line === '' || line.startsWith('#')) continue
    const series = line.slice(0, line.lastIndexOf(' '))
    const name = (/^[^{]+/.exec(series)?.[0] ?? series).replace(/_(bucket|sum|count)$/, '')
    samples.set(name, [...(samples.get(name) ?? []), series])
  }
  return { types, samples }
}

describe('metrics table of docs/OBSERVABILITY.md', () => {
  it('should list every metric a node serves, with its type and label, and each served one should be listed', async () => {
    dir = await tempDir()
    node = await startNode({ config: testConfig(dir), services: defaultServices() })
    const api = await readApiFile(dir)
    const scrape = async (): Promise<string> => await (await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${api.token}` } })).text()
    await waitFor(async () => (await scrape()).includes('revoada_server_is_leader 1'), 20_000, 'the lone node to lead')
    const { types, samples } = parseExposition(await scrape())
    const documented = documentedMetrics()
    expect(documented.length).toBeGreaterThan(20)
    expect([...types.keys()].sort()).toEqual(documented.map((m) => m.name).sort())
    for (const metric of documented) {
      expect({ name: metric.name, type: types.get(metric.name) }).toEqual({ name: metric.name, type: metric.type })
      // A labelled sample carries the documented label, and an unlabelled metric none.
      for (const series of samples.get(metric.name) ?? []) {
        const labels = [...series.matchAll(/(\w+)="/g)].map((l) => l[1]).filter((l) => l !== 'le')
        expect({ series, labels }).toEqual({ series, labels: metric.label === undefined ? [] : [metric.label] })
      }
    }
    // Every layer runs here (content and attestation included): each gauge the table documents has a sample.
    const gauges = documented.filter((m) => m.type === 'gauge').map((m) => m.name)
    expect(gauges.filter((name) => !samples.has(name))).toEqual([])
  })
})
