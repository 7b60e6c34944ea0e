// Lint: typescript-eslint's recommended rules everywhere, plus the purity fence around every `core/`
// folder (STYLE §1): a pure core may not reach IO, timers, wall-clock time or global randomness.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const impureGlobals = [
  { name: 'setTimeout', message: 'core/ is pure: time enters as tick() calls.' },
  { name: 'setInterval', message: 'core/ is pure: time enters as tick() calls.' },
  { name: 'setImmediate', message: 'core/ is pure: time enters as tick() calls.' },
  { name: 'Date', message: 'core/ is pure: time is an input, never read from the clock.' },
  { name: 'process', message: 'core/ is pure: no process state.' },
  { name: 'crypto', message: 'core/ is pure: randomness is an injected Prng.' },
  { name: 'performance', message: 'core/ is pure: no clocks.' }
]

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.revoada/**', '.docker-prebuilt/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }]
    }
  },
  {
    files: ['src/**/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'net', 'os', 'crypto', 'timers', 'child_process'], message: 'core/ is pure: no IO imports.' },
          { group: ['@libp2p/*', 'libp2p'], message: 'core/ is pure: the network is wired by the driver.' }
        ]
      }],
      'no-restricted-globals': ['error', ...impureGlobals],
      'no-restricted-properties': ['error',
        { object: 'Math', property: 'random', message: 'core/ is pure: use the injected Prng.' },
        { object: 'Date', property: 'now', message: 'core/ is pure: time is an input.' }
      ]
    }
  }
)
