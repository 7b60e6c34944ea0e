/**
 * @module test/fuzz/pending
 * Regression inputs that still crash code being changed elsewhere (issue 9 items 1–7, the Raft core and
 * transport): regressions.test.ts replays them with `it.fails`, so CI stays green now and turns red the
 * moment the fix lands. Then delete the line here (the input becomes an ordinary regression) and, for
 * raft-step and snapshot-restore, drop the target from FUZZ_SKIP_TARGETS in .ci/run.
 */

/** `<target>/<file>` → what it shows and which item of issue 9 fixes it. */
export const PENDING_REGRESSIONS: ReadonlyMap<string, string> = new Map([
  ['raft-step/b1cbc9f888426d84.bin', 'item 3: an App of term 0 from a member makes a candidate assert "term regressed 2 -> 0" (process exit)'],
  ['raft-step/885656e35526a745.bin', 'item 2: an App of term 2^53-1 is accepted; the next campaign uses term 2^53, which peers (and the WAL) cannot decode'],
  ['raft-step/95f33ec0cf8a4cb1.bin', 'items 2/3: an AppResp acknowledging index 8 beyond the leader\'s last index 4 makes the leader assert "log compacted without a snapshot"'],
  ['raft-step/b100ce685bc46a8e.bin', 'items 2/5: a Snap whose meta term (5) is above its message term (3) is installed: "last term 5 > current term 3"'],
  ['raft-step/2032418e7f2dee37.bin', 'items 2/3: an App whose entries\' terms decrease (5 then 4) is appended: "term decreases at index 5"'],
  ['raft-step/501fd45499749ba3.bin', 'item 3: a forwarded ReadIndex without a context is queued; the leader asserts when it releases it after its first commit'],
  ['raft-step/283320877ac5d45b.bin', 'item 6: decodeFrame throws a TypeError, not MalformedFrameError, for snapshot meta {confState: null}'],
  ['snapshot-restore/af28c44a33034c7a.bin', 'item 5: a session table with maxSeqsPerClient -1 asserts in ProposalSessions.decode (process exit on InstallSnapshot)'],
  ['snapshot-restore/042c3fb3c43fafa8.bin', 'item 5: a session table without clients throws a TypeError in ProposalSessions.decode'],
  ['snapshot-restore/cd7d9ab8776f9058.bin', 'item 5: a session table whose results hold no value restores, then cannot be encoded in the next snapshot']
])
