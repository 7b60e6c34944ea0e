/**
 * Every admin API route the code registers is documented: an operator reads the route tables (docs/OPERATIONS.md
 * "Routes", docs/CONTENT.md, docs/CHAIN.md…), and a route missing there exists for nobody but the code's readers.
 * Routes are found in src/ as `app.get('/path'` (or `scope.post(…)`); a doc names one as `GET /path` (a query
 * after it allowed). The content layer's are listed relative to `/v1/content` in docs/CONTENT.md (`GET /:cid`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO } from '../cli/helpers.js'

const ROUTE = /\b(?:app|scope)\.(get|post|put|delete|patch|head)\(\s*'(\/[^']*)'/g
const CONTENT_PREFIX = '/v1/content'

function sourceFiles (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : []
  })
}

/** `METHOD path` as the code registers it, every route once. */
function registeredRoutes (): string[] {
  const routes = new Set<string>()
  for (const file of sourceFiles(path.join(REPO, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(ROUTE)) routes.add(`${(m[1] as string).toUpperCase()} ${m[2] as string}`)
  }
  return [...routes].sort()
}

/** Whether `text` names the route: `METHOD path` followed by the end of the code span, a query or a space. */
function names (text: string, method: string, route: string): boolean {
  const escaped = route.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`\`${method} ${escaped}(?:[\`\\[? ])`).test(text)
}

describe('admin API routes in the docs', () => {
  it('should find every route src/ registers named in docs/*.md', () => {
    const docs = readdirSync(path.join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => readFileSync(path.join(REPO, 'docs', f), 'utf8')).join('\n')
    const content = readFileSync(path.join(REPO, 'docs/CONTENT.md'), 'utf8')
    const routes = registeredRoutes()
    // A reader that finds few has stopped reading the routes.
    expect(routes.length).toBeGreaterThan(25)
    const missing = routes.filter((r) => {
      const [method, route] = r.split(' ') as [string, string]
      if (names(docs, method, route)) return false
      if (route === CONTENT_PREFIX || route.startsWith(`${CONTENT_PREFIX}/`)) return !names(content, method, route.slice(CONTENT_PREFIX.length) || '/')
      return true
    })
    expect(missing).toEqual([])
  })
})
