/**
 * @module test/fuzz/pending
 * Regression inputs that still crash code being changed elsewhere (issue 9 items 1–7, the Raft core and
 * transport): regressions.test.ts replays them with `it.fails`, so CI stays green now and turns red the
 * moment the fix lands. Then delete the line here (the input becomes an ordinary regression) and, for
 * raft-step and snapshot-restore, drop the target from FUZZ_SKIP_TARGETS in .ci/run.
 */

/** `<target>/<file>` → what it shows and which item of issue 9 fixes it. */
export const PENDING_REGRESSIONS: ReadonlyMap<string, string> = new Map([
  ['raft-step/98d6b831a2c27537.bin', 'item 3: a Heartbeat of term 0 from a member makes a candidate assert "term regressed 2 -> 0" (process exit)'],
  ['raft-step/0f9d697edec8cc9e.bin', 'item 2: an App of term 2^53-1 is accepted; the next campaign uses term 2^53, which peers (and the WAL) cannot decode'],
  ['raft-step/5ef00ef8d49fe1d6.bin', 'items 2/5: a Snap whose meta term (5) is above its message term (2) is installed: "last term 5 > current term 2"'],
  ['raft-step/168eb7ff00cd395b.bin', 'item 6: decodeFrame throws a TypeError, not MalformedFrameError, for snapshot meta {confState: null}'],
  ['snapshot-restore/af28c44a33034c7a.bin', 'item 5: a session table with maxSeqsPerClient -1 asserts in ProposalSessions.decode (process exit on InstallSnapshot)'],
  ['snapshot-restore/042c3fb3c43fafa8.bin', 'item 5: a session table without clients throws a TypeError in ProposalSessions.decode'],
  ['snapshot-restore/cd7d9ab8776f9058.bin', 'item 5: a session table whose results hold no value restores, then cannot be encoded in the next snapshot']
])
