/**
 * Every crash the fuzzer found, kept as an input under test/fuzz/regressions/<target>/ and replayed
 * through the same target code `npm run fuzz` runs: it must now be accepted or rejected with the
 * target's typed error. Inputs listed in pending.ts still crash code owned by issue 9 items 1–7 and are
 * expected to fail until that lands (it.fails), so their fix is noticed.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runInput } from './engine.js'
import { PENDING_REGRESSIONS } from './pending.js'
import { TARGETS } from './targets/index.js'

const ROOT = path.join(import.meta.dirname, 'regressions')
const targetDirs = fs.readdirSync(ROOT).filter((name) => fs.statSync(path.join(ROOT, name)).isDirectory()).sort()

describe('fuzz regressions', () => {
  it('should keep inputs only for known targets, and list only existing inputs as pending', () => {
    for (const dir of targetDirs) expect(TARGETS.has(dir), dir).toBe(true)
    for (const key of PENDING_REGRESSIONS.keys()) expect(fs.existsSync(path.join(ROOT, key)), key).toBe(true)
  })

  for (const dir of targetDirs) {
    const target = TARGETS.get(dir)
    if (target === undefined) continue
    describe(dir, () => {
      let ready: Promise<void> | undefined
      afterAll(async () => { await target.close?.() })
      for (const file of fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.bin')).sort()) {
        const pending = PENDING_REGRESSIONS.get(`${dir}/${file}`)
        const replay = async (): Promise<void> => {
          ready ??= target.setup?.() ?? Promise.resolve()
          await ready
          const outcome = await runInput(target, new Uint8Array(fs.readFileSync(path.join(ROOT, dir, file))))
          if (outcome !== 'ok' && outcome !== 'typed') throw new Error(`${dir}/${file} crashes: ${outcome.name}: ${outcome.message}`, { cause: outcome })
        }
        if (pending === undefined) it(`should accept or reject ${file} with a typed error`, replay)
        else it.fails(`should accept or reject ${file} with a typed error once issue 9 ${pending.split(':')[0] ?? ''} lands`, replay)
      }
    })
  }
})
