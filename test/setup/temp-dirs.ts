/**
 * Removes the temp dirs a test file made with `tempDir` (test/node/helpers.ts) once the file is done. A setup
 * file's afterAll is registered before the file's own hooks and so runs after them (vitest runs after-hooks in
 * reverse order): every node a test stopped in its own afterEach or afterAll is stopped by then. Without it a
 * full suite left ≈ 400 data dirs in /tmp.
 */
import { afterAll } from 'vitest'
import { removeMadeDirs } from '../node/helpers.js'

afterAll(async () => { await removeMadeDirs() })
