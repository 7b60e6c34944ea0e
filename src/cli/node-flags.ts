/**
 * @module cli/node-flags
 * The Node.js flags the `revoada` bin runs with: its shebang (src/cli/main.ts, checked by
 * test/cli/bundle.test.ts) cannot import them, so this is the one copy everything else uses — the testbed's
 * nodes and the benchmarks, which measure what operators run. A 1 MB young generation keeps an idle node's
 * RSS from growing with V8's default semi-space (docs/bench/scale.md, s6boot): V8 grows it during a
 * cluster's start-up and keeps it, 10 idle nodes measured 93.8 MB median VmRSS with 1, 95.0 with 2, 98.5 with
 * 4, 106 with 8. A bigger one scavenges less under load (35 scavenges per 1,000 commits with 1, 16 with 2,
 * 8 with 4) but no CPU-per-commit gain showed beyond the noise (docs/bench/consensus.md, "Node flags").
 */
export const REVOADA_BIN_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1']
