/**
 * The docs name the test or bench behind each claim ("claim only what is shown"); this keeps those names true.
 * In README.md and docs/*.md every backticked path under test/, src/, bench/ or scripts/ must exist, and every
 * test name given with it — `path > describe > it`, or quoted after it: `path` "name" — must be in that file
 * (whitespace folded; `…` or `...` marks an elided part). docs/bench/ is left out: it is the record of every
 * run, tried-and-dropped branches among them, whose files main no longer has.
 * A limit the docs give with its value — `NAME` = 8 KiB, `NAME` (10 s, `NAME` = 2^47 — must hold that value in
 * the src/ module that exports it: the figure a reader plans by is the one the code enforces.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
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

/** A constant named with its value: `NAME` = 16,384 / (2^20 / = 8 KiB + 1 / (10 s / (20 ms. */
const CONSTANT = /`([A-Z][A-Z0-9_]{3,})`(?: = | \()(2\^\d+|\d[\d,]*)(?: ?(KiB|MiB|GiB|ms|s)\b)?(?: \+ (\d+))?/g
const UNIT: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, ms: 1, s: 1000 }

interface ConstantClaim { doc: string, name: string, value: number, text: string }

/** The constants a markdown text gives with a value, in the code's units (a `…_MS` name counts milliseconds). */
function constantsIn (doc: string, markdown: string): ConstantClaim[] {
  const out: ConstantClaim[] = []
  for (const m of markdown.matchAll(CONSTANT)) {
    const [text, name, number, unit, plus] = m as unknown as [string, string, string, string | undefined, string | undefined]
    // A time given to a name that is not in milliseconds is not this check's to convert.
    if ((unit === 's' || unit === 'ms') && !name.endsWith('_MS')) continue
    const base = number.startsWith('2^') ? 2 ** Number(number.slice(2)) : Number(number.replace(/,/g, ''))
    out.push({ doc, name, value: base * (unit === undefined ? 1 : UNIT[unit] as number) + Number(plus ?? 0), text })
  }
  return out
}

function sourceFiles (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : []
  })
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

  it('should read a constant\'s value in the units the docs give it', () => {
    const md = '`A_MAX` = 16,384 and `B_BYTES` = 8 KiB + 1; `C_MS` (10 s, `D_MS` (20 ms), `E_MAX` (2^20 terms), `F_MAX` = 64 sessions, `G_MAX` (3 s'
    expect(constantsIn('X.md', md).map((c) => `${c.name}=${c.value}`)).toEqual(['A_MAX=16384', 'B_BYTES=8193', 'C_MS=10000', 'D_MS=20', 'E_MAX=1048576', 'F_MAX=64'])
  })

  it('should find every constant README.md and docs/*.md give with a value holding that value in src/', async () => {
    const docs = ['README.md', ...readdirSync(path.join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
    const claims = docs.flatMap((doc) => constantsIn(doc, readFileSync(path.join(REPO, doc), 'utf8')))
    // The docs give dozens of limits with their values; a reader that finds few has stopped reading them.
    expect(claims.length).toBeGreaterThan(30)
    const sources = sourceFiles(path.join(REPO, 'src')).map((file) => ({ file, text: readFileSync(file, 'utf8') }))
    const wrong: string[] = []
    for (const claim of claims) {
      const home = sources.find((s) => new RegExp(`^export const ${claim.name}\\b`, 'm').test(s.text))
      if (home === undefined) { wrong.push(`${claim.doc}: ${claim.name} is exported by no src/ module ("${claim.text}")`); continue }
      const value = ((await import(pathToFileURL(home.file).href)) as Record<string, unknown>)[claim.name]
      if (value !== claim.value) wrong.push(`${claim.doc}: "${claim.text}" but ${path.relative(REPO, home.file)} has ${String(value)}`)
    }
    expect(wrong).toEqual([])
  }, 120_000)
})
