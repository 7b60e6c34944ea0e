/**
 * @module cli/node-flags
 * The Node.js flags the `revoada` bin runs with: its shebang (src/cli/main.ts, checked by
 * test/cli/bundle.test.ts) cannot import them, so this is the one copy everything else uses — the testbed's
 * nodes and the benchmarks, which measure what operators run. A 1 MB young generation keeps an idle node's
 * RSS from growing with V8's default semi-space (docs/bench/scale.md, s6boot): V8 grows it during a
 * cluster's start-up and keeps it, 10 idle nodes measured 93.8 MB median VmRSS with 1, 95.0 with 2, 98.5 with
 * 4, 106 with 8. A bigger one scavenges less under load (35 scavenges per 1,000 commits with 1, 16 with 2,
 * 8 with 4) but no CPU-per-commit gain showed beyond the noise (docs/bench/consensus.md, "Node flags").
 *
 * A 16× interrupt budget (V8's default, 67,584, is how much bytecode a function runs before V8 asks TurboFan
 * to optimise it) keeps V8 from optimising code that is only warm: a node's first minutes run many functions
 * a few times a second (heartbeats, timers, gossip), and their optimising compiles, on V8's background
 * threads, were 16–20 % of a 50-node fleet's CPU from spawn through 20 s of idle on 2 cores, and 17–30 % of
 * its idle CPU. Code that is hot — the commit path under load — still reaches the budget within moments
 * (docs/bench/scale.md, "TurboFan's compiles"; `bench:consensus` pairs there showed no loss).
 */
export const REVOADA_BIN_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--interrupt-budget=1048576']
