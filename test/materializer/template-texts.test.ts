/**
 * The texts of committed templates the materializer keeps are bounded: any key holder can commit catalog after
 * catalog, each naming new templates of up to 256 KiB, and every holder of the role fetches each one. Method:
 * a TemplateSource over an in-memory content layer is asked for 300 distinct templates of 64 KiB, as 300
 * catalogs in turn would; then for one asked before, which comes back (fetched again) and still verified.
 * Red before: every fetched text was kept for the life of the process (300 texts, 19 MiB here; a catalog
 * committed every second grew a holder by up to 900 MiB an hour).
 */
import { describe, expect, it } from 'vitest'
import { TemplateSource } from '../../src/materializer/template-source.js'
import type { TemplateContent } from '../../src/materializer/template-source.js'
import { TEMPLATE_TEXTS_MAX } from '../../src/materializer/constants.js'
import { cidOfBytes } from '../../src/codec/index.js'

function template (i: number): Uint8Array {
  const header = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: t${i}\n# `
  return new TextEncoder().encode(header + 'x'.repeat(64 * 1024 - header.length) + '\n')
}

describe('materializer template texts', () => {
  it('should keep at most TEMPLATE_TEXTS_MAX fetched texts, and fetch an evicted one again', async () => {
    const store = new Map<string, Uint8Array>()
    let gets = 0
    const content: TemplateContent = {
      add: async (bytes) => { const cid = cidOfBytes(bytes).toString(); store.set(cid, bytes); return cid },
      get: async (cid) => { gets++; const bytes = store.get(cid); if (bytes === undefined) throw new Error('not found'); return bytes }
    }
    const source = new TemplateSource(new Map(), () => content)
    const entries: Array<{ name: string, cid: string }> = []
    for (let i = 0; i < 300; i++) entries.push({ name: 'kube-apiserver.yaml', cid: await content.add(template(i)) })
    for (const entry of entries) expect((await source.text(entry)).includes(`name: t${entries.indexOf(entry)}\n`)).toBe(true)
    expect(gets).toBe(300)
    expect(source.fetchedTexts).toBeLessThanOrEqual(TEMPLATE_TEXTS_MAX)
    expect(TEMPLATE_TEXTS_MAX).toBeLessThan(300)
    // The latest is kept (no fetch); the first was evicted and comes back from the content layer.
    await source.text(entries[299]!)
    expect(gets).toBe(300)
    expect(await source.text(entries[0]!)).toContain('name: t0\n')
    expect(gets).toBe(301)
  })
})
