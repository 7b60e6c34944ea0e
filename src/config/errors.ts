/**
 * @module config/errors
 * Operating errors of configuration loading; callers match on `name`.
 */

/** The merged configuration (file < env < flags) failed validation; `message` names every bad key. */
export class ConfigInvalidError extends Error {
  static override readonly name = 'ConfigInvalidError'
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`)
    this.name = 'ConfigInvalidError'
    this.problems = problems
  }
}

/** The config file could not be read or is not JSON. */
export class ConfigFileError extends Error {
  static override readonly name = 'ConfigFileError'
  constructor (file: string, reason: string, cause?: unknown) {
    super(`config file ${file}: ${reason}`, { cause })
    this.name = 'ConfigFileError'
  }
}
