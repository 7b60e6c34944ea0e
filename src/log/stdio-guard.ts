/**
 * @module log/stdio-guard
 * A node's stderr or stdout redirected to a file on a disk that fills (`revoada start > node.log 2>&1`, the
 * testbed's `node.log`), or to a pipe whose reader is gone, fails its writes with an 'error' event on
 * process.stderr / process.stdout. Without a listener the event is thrown and the process ends: a node that
 * rides out a full data disk (docs/OPERATIONS.md, "Logs") was ended by its own log line about it. Guarded, a
 * line that cannot be written is lost, and later lines are written once writing works again
 * (test/cli/stdio-full.test.ts).
 */

let guarded = false

/** Keeps the process running when a write to its stdout or stderr fails; idempotent. */
export function guardStdio (): void {
  if (guarded) return
  guarded = true
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => { /* the line is lost; the next write tries again */ })
}

