/**
 * @module consensus/shape/core/target-safety
 * Why an operator's new target topology may be a mistake (issue 11 item 5). Pure: the API refuses a target
 * with concerns unless the request says `force: true` (`revoada target set … --yes`).
 */
import type { TargetTopology } from './types.js'

/** Voters that may fail while a majority of `voters` remains: ⌊(n−1)/2⌋, 0 for an empty set. */
export function faultTolerance (voters: number): number {
  return voters <= 0 ? 0 : Math.floor((voters - 1) / 2)
}

/**
 * The reasons `next` is risky given `liveVoters` (etcd holders membership sees alive), empty when it is not:
 * an even etcd count (no more tolerance than one fewer voter, one more to lose), and an etcd count that
 * tolerates fewer failures than the live voters do now.
 */
export function targetConcerns (next: TargetTopology, liveVoters: number): string[] {
  const concerns: string[] = []
  const etcd = next.etcd
  if (etcd % 2 === 0) {
    concerns.push(`etcd ${etcd} is even: ${etcd} voters tolerate ${faultTolerance(etcd)} failed voter(s), ` +
      `the same as ${etcd - 1}, with one more machine that can fail; use ${etcd - 1} or ${etcd + 1}`)
  }
  if (faultTolerance(etcd) < faultTolerance(liveVoters)) {
    concerns.push(`etcd ${etcd} tolerates ${faultTolerance(etcd)} failed voter(s); the ${liveVoters} live voters ` +
      `tolerate ${faultTolerance(liveVoters)} now`)
  }
  return concerns
}

/** `partial` over `current`: the fields the operator gave replace the current ones. */
export function mergeTarget (current: TargetTopology, partial: Partial<TargetTopology>): TargetTopology {
  return { ...current, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) }
}

export function sameTarget (a: TargetTopology, b: TargetTopology): boolean {
  return a.apiServers === b.apiServers && a.etcd === b.etcd && a.schedulers === b.schedulers &&
    a.controllerManagers === b.controllerManagers && a.minWorkers === b.minWorkers
}
