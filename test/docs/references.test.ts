/**
 * The docs name the test or bench behind each claim ("claim only what is shown"); this keeps those names true.
 * In README.md and docs/*.md every backticked path under test/, src/, bench/ or scripts/ must exist, and every
 * test name given with it — `path > describe > it`, or quoted after it: `path` "name" — must be in that file
 * (whitespace folded; `…` or `...` marks an elided part). docs/bench/ is left out: it is the record of every
 * run, tried-and-dropped branches among them, whose files main no longer has.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO } from '../cli/helpers.js'

/** A backticked path, its `> name` parts, then any quoted names right after it. */
const REFERENCE = /`((?:test|src|bench|scripts)\/[\w./-]+\.(?:ts|js|mjs|sh))((?:\s*>\s*[^`>]+)*)`((?:[ ,(]*(?:"[^"]+"|“[^”]+”)(?:,| and| or)?)*)/g
const QUOTED = /"([^"]+)"|“([^”]+)”/g
/** Suites whose names come from the disk, not the source: the fuzz regressions, one describe per target folder. */
const DYNAMIC_SUITES: Record<string, () => string[]> = {
  'test/fuzz/regressions.test.ts': () => readdirSync(path.join(REPO, 'test/fuzz/regressions'))
}

interface Reference { doc: string, file: string, names: string[] }

function fold (text: string): string {
  return text.replace(/\\'/g, "'").replace(/\s+/g, ' ').trim()
}

/** The references a markdown text makes. */
function referencesIn (doc: string, markdown: string): Reference[] {
  const out: Reference[] = []
  for (const m of markdown.matchAll(REFERENCE)) {
    const quoted = [...(m[3] ?? '').matchAll(QUOTED)].map((q) => q[1] ?? q[2] ?? '')
    const names = [...(m[2] ?? '').split('>').filter((n) => n.trim() !== ''), ...quoted].map((n) => fold(n).replace(/[.…]+$/, '').trim())
    out.push({ doc, file: m[1] as string, names: names.filter((n) => n !== '') })
  }
  return out
}

/** What is wrong with one reference, or undefined: the file missing, or a name not in it. */
function brokenPart (ref: Reference, read: (file: string) => string | undefined): string | undefined {
  // A bench is named by its built file (`node dist/bench/x.js`); its source is bench/x.ts.
  const file = ref.file.startsWith('bench/') && ref.file.endsWith('.js') ? ref.file.slice(0, -3) + '.ts' : ref.file
  const source = read(file)
  if (source === undefined) return `${ref.file} does not exist`
  const text = fold(source)
  const dynamic = DYNAMIC_SUITES[file]?.() ?? []
  for (const name of ref.names) {
    const parts = name.split(/…|\.\.\./).map((p) => p.trim()).filter((p) => p !== '')
    if (!parts.every((p) => text.includes(p)) && !dynamic.includes(name)) return `${ref.file} has no test "${name}"`
  }
  return undefined
}

function readRepoFile (file: string): string | undefined {
  const full = path.join(REPO, file)
  return existsSync(full) ? readFileSync(full, 'utf8') : undefined
}

describe('references from the docs to tests and code', () => {
  it('should read a path, its > names and the quoted names after it, and find a renamed test', () => {
    const md = 'Shown by `test/a.test.ts > suite > should hold` and `test/b.test.ts` ("should x", "should  y…z"); `src/c.ts`.'
    const refs = referencesIn('X.md', md)
    expect(refs).toEqual([
      { doc: 'X.md', file: 'test/a.test.ts', names: ['suite', 'should hold'] },
      { doc: 'X.md', file: 'test/b.test.ts', names: ['should x', 'should y…z'] },
      { doc: 'X.md', file: 'src/c.ts', names: [] }
    ])
    const files: Record<string, string> = { 'test/a.test.ts': "describe('suite', () => { it('should hold', () => {}) })", 'test/b.test.ts': "it('should x') it('should y and then z')" }
    const read = (f: string): string | undefined => files[f]
    expect(refs.map((r) => brokenPart(r, read))).toEqual([undefined, undefined, 'src/c.ts does not exist'])
    expect(brokenPart({ doc: 'X.md', file: 'test/a.test.ts', names: ['should hold firm'] }, read)).toBe('test/a.test.ts has no test "should hold firm"')
  })

  it('should find every file and test name that README.md and docs/*.md give as evidence', () => {
    const docs = ['README.md', ...readdirSync(path.join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
    const refs = docs.flatMap((doc) => referencesIn(doc, readFileSync(path.join(REPO, doc), 'utf8')))
    // The docs cite hundreds of files; a reader that finds few has stopped reading them.
    expect(refs.length).toBeGreaterThan(300)
    expect(refs.filter((r) => r.names.length > 0).length).toBeGreaterThan(50)
    const broken = refs.flatMap((r) => { const why = brokenPart(r, readRepoFile); return why === undefined ? [] : [`${r.doc}: ${why}`] })
    expect(broken).toEqual([])
  })
})
