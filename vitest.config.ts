import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

// Tests run from TypeScript sources; child-process tests use the build in dist/ (npm test builds first).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['dist/**', 'node_modules/**'],
    setupFiles: ['./src/polyfill.ts', './test/setup/temp-dirs.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // vitest's default is one worker per core but one, so a single worker on 2 cores: the suite ran serially in
    // 934 s, mostly processes and timers waiting. Two on 2 cores: 539 s, every test passing (docs/STACK.md).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default']
  }
})
