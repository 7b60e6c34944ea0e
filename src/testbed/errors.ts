/**
 * @module testbed/errors
 * Operating errors of the local testbed; callers match on `name`.
 */

/** `testbed.json` is missing or unreadable: no testbed runs in that directory. */
export class TestbedNotRunningError extends Error {
  static override readonly name = 'TestbedNotRunningError'
  constructor (dir: string, detail: string) {
    super(`no testbed in ${dir} (${detail}); start one with \`revoada testbed up --nodes 5 --dir ${dir}\``)
    this.name = 'TestbedNotRunningError'
  }
}

/** `testbed up` found a testbed already recorded in the directory. */
export class TestbedExistsError extends Error {
  static override readonly name = 'TestbedExistsError'
  constructor (dir: string) {
    super(`a testbed is already recorded in ${dir}; \`revoada testbed down --dir ${dir}\` first`)
    this.name = 'TestbedExistsError'
  }
}

/** A node index outside 1..N, or a bad node count. */
export class TestbedArgumentError extends Error {
  static override readonly name = 'TestbedArgumentError'
  constructor (message: string) {
    super(message)
    this.name = 'TestbedArgumentError'
  }
}

/** A node process exited or did not answer in time while starting. */
export class TestbedNodeStartError extends Error {
  static override readonly name = 'TestbedNodeStartError'
  constructor (index: number, detail: string) {
    super(`testbed node ${index} did not start: ${detail}`)
    this.name = 'TestbedNodeStartError'
  }
}

/** A node process still ran NODE_STOP_TIMEOUT_MS after its SIGKILL (uninterruptible IO, a hung mount): it holds its data dir. */
export class TestbedNodeStopError extends Error {
  static override readonly name = 'TestbedNodeStopError'
  constructor (nodes: string, waitedMs: number) {
    super(`${nodes} still running ${waitedMs / 1000} s after SIGKILL (stuck in the kernel, e.g. on disk IO); ` +
      'it holds its data dir, so it cannot be restarted until it is gone')
    this.name = 'TestbedNodeStopError'
  }
}

/** `testbed up` was interrupted (SIGINT, SIGTERM); what it had started is stopped and removed. */
export class TestbedInterruptedError extends Error {
  static override readonly name = 'TestbedInterruptedError'
  /** 128 + the signal's number, as a shell reports a process the signal ended. */
  readonly exitCode: number
  constructor (signal: string) {
    super(`testbed up interrupted by ${signal}; the nodes it started are stopped and what it made is removed`)
    this.name = 'TestbedInterruptedError'
    this.exitCode = 128 + (signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 1)
  }
}
