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
    reporters: ['default']
  }
})
