/**
 * @module cli/node-flags
 * The Node.js flags the `revoada` bin runs with: its shebang (src/cli/main.ts, checked by
 * test/cli/bundle.test.ts) cannot import them, so this is the one copy everything else uses — the testbed's
 * nodes and the benchmarks, which measure what operators run. A 1 MB young generation keeps an idle node's
 * RSS from growing with V8's default semi-space (docs/bench/scale.md, s6boot).
 */
export const REVOADA_BIN_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1']
