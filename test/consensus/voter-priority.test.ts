/**
 * A voter's event-loop thread asks for a larger CPU share (consensus/voter-priority.ts): raised while the node
 * votes, back to its start when it stops, never below an operator's own higher start, refused once without
 * CAP_SYS_NICE. Unit tests on a fake thread; test/cli/voter-priority.test.ts checks a real `revoada start`.
 */
import { describe, expect, it } from 'vitest'
import { VoterPriority, wantedNice, VOTER_NICE_DEFAULT } from '../../src/consensus/voter-priority.js'
import type { ThreadPriority } from '../../src/util/thread-priority.js'
import { allVoters } from '../../src/consensus/core/quorum.js'
import { silentLogger } from '../../src/log/index.js'
import { capturingLogger } from '../node/helpers.js'

/** A thread whose priority calls are recorded; `refuse` makes raising (a lower nice) throw like libuv's EACCES. */
function fakeThread (start = 0, refuse?: string): ThreadPriority & { nice: number, sets: number[] } {
  const thread = {
    nice: start,
    sets: [] as number[],
    get: () => thread.nice,
    set: (nice: number) => {
      thread.sets.push(nice)
      if (refuse !== undefined && nice < thread.nice) {
        throw Object.assign(new Error('A system error occurred: uv_os_setpriority returned EACCES (permission denied)'), { code: 'ERR_SYSTEM_ERROR', info: { code: refuse } })
      }
      thread.nice = nice
    }
  }
  return thread
}

describe('voter priority', () => {
  it('should raise the thread while the node votes and put it back when it stops voting', () => {
    const thread = fakeThread(0)
    const priority = new VoterPriority(thread, VOTER_NICE_DEFAULT, silentLogger())
    priority.update(false)
    expect(thread.sets).toEqual([])
    priority.update(true)
    expect(thread.nice).toBe(-5)
    priority.update(true)
    expect(thread.sets).toEqual([-5])
    expect(priority.status()).toEqual({ nice: -5, voterNice: -5 })
    priority.update(false)
    expect(thread.nice).toBe(0)
    expect(thread.sets).toEqual([-5, 0])
  })

  it('should keep a priority the operator started higher than the voter value', () => {
    const thread = fakeThread(-10)
    const priority = new VoterPriority(thread, -5, silentLogger())
    priority.update(true)
    priority.update(false)
    expect(thread.sets).toEqual([])
    expect(wantedNice(true, -5, -10)).toBe(-10)
    expect(wantedNice(true, -5, 5)).toBe(-5)
    expect(wantedNice(false, -5, 5)).toBe(5)
  })

  it('should log a refused raise once, report it, and not try again', () => {
    const thread = fakeThread(0, 'EACCES')
    const { log, lines } = capturingLogger('warn')
    const priority = new VoterPriority(thread, -5, log)
    priority.update(true)
    priority.update(false)
    priority.update(true)
    expect(thread.sets).toEqual([-5])
    expect(thread.nice).toBe(0)
    expect(priority.status()).toEqual({ nice: 0, voterNice: -5, refused: 'EACCES' })
    expect(lines.filter((l) => String(l.msg).includes('CAP_SYS_NICE'))).toHaveLength(1)
  })

  it('should log a refusal of the default at info, of an operator\'s value at warn', () => {
    const quiet = capturingLogger('info')
    new VoterPriority(fakeThread(0, 'EPERM'), VOTER_NICE_DEFAULT, quiet.log, 'info').update(true)
    const asked = capturingLogger('info')
    new VoterPriority(fakeThread(0, 'EPERM'), -10, asked.log, 'warn').update(true)
    expect(quiet.lines.map((l) => l.level)).toEqual([30])
    expect(asked.lines.map((l) => l.level)).toEqual([40])
  })

  it('should reset to the starting priority when the node stops', () => {
    const thread = fakeThread(2)
    const priority = new VoterPriority(thread, -5, silentLogger())
    priority.update(true)
    expect(thread.nice).toBe(-5)
    priority.reset()
    expect(thread.nice).toBe(2)
  })

  it('should count a voter of either half of a joint configuration (what the service raises on)', () => {
    const conf = (voters: string[], votersOutgoing: string[]) => ({ voters, votersOutgoing, learners: [], learnersNext: [], autoLeave: false })
    expect(allVoters(conf(['a'], [])).includes('a')).toBe(true)
    expect(allVoters(conf(['b'], ['a'])).includes('a')).toBe(true)
    expect(allVoters(conf(['b'], ['c'])).includes('a')).toBe(false)
  })
})
