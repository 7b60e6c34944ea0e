/**
 * Goal: what `revoada start` does on SIGINT/SIGTERM (docs/OPERATIONS.md, "Stopping"): the first stops the node
 * gracefully, one within a second of it is the same Ctrl-C delivered twice, a later one exits at once. A signal
 * that comes while the node stops on its own (it left, was removed, finished a quorum recovery) is the
 * operator's first, not a second: before, it cut that stop short with exit 1 (api.json and the lock file left,
 * and the removed node's exit 6 lost to a service manager).
 * Method: the pure verdict on a steady clock reading, each case from the state the handler keeps.
 */
import { describe, expect, it } from 'vitest'
import { signalVerdict } from '../../src/cli/start-command.js'

const NOW_MS = 1_800_000_000_000

describe('signalVerdict', () => {
  it('should stop on the first signal, ignore its duplicate within a second, and exit on a later one', () => {
    expect(signalVerdict({ firstAtMs: undefined, stopping: false }, NOW_MS)).toBe('stop')
    expect(signalVerdict({ firstAtMs: NOW_MS, stopping: true }, NOW_MS + 999)).toBe('duplicate')
    expect(signalVerdict({ firstAtMs: NOW_MS, stopping: true }, NOW_MS + 1_000)).toBe('exit-now')
    // While starting: no stop runs yet, the first signal is remembered.
    expect(signalVerdict({ firstAtMs: NOW_MS, stopping: false }, NOW_MS + 1_500)).toBe('exit-now')
  })

  it('should take a signal during a stop the node asked for itself as the first, not a second', () => {
    expect(signalVerdict({ firstAtMs: undefined, stopping: true }, NOW_MS)).toBe('stopping')
    // Then as after any first signal.
    expect(signalVerdict({ firstAtMs: NOW_MS, stopping: true }, NOW_MS + 500)).toBe('duplicate')
    expect(signalVerdict({ firstAtMs: NOW_MS, stopping: true }, NOW_MS + 1_500)).toBe('exit-now')
  })
})
