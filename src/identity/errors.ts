/**
 * @module identity/errors
 * Operating errors of the identity layer; callers match on `name`.
 */

/** The identity file exists but does not hold a valid ed25519 libp2p private key. Never replaced silently. */
export class IdentityCorruptError extends Error {
  static override readonly name = 'IdentityCorruptError'
  constructor (path: string, cause?: unknown) {
    super(`identity key ${path} is corrupt or not an ed25519 libp2p key; refusing to replace it ` +
      '(restore it from backup, or move it away to create a new identity)', { cause })
    this.name = 'IdentityCorruptError'
  }
}

/** The identity file is readable or writable by group/others. */
export class IdentityPermissionsError extends Error {
  static override readonly name = 'IdentityPermissionsError'
  constructor (path: string, mode: number) {
    super(`identity key ${path} has mode 0${mode.toString(8)}, readable by others; ` +
      `run \`chmod 600 ${path}\` if it was not leaked, otherwise create a new identity`)
    this.name = 'IdentityPermissionsError'
  }
}

/**
 * The identity file's name exists but is no readable regular file: a directory, a symlink loop or one to nothing,
 * a file the process may not read. Never replaced: the key may be where the name should have led.
 */
export class IdentityUnreadableError extends Error {
  static override readonly name = 'IdentityUnreadableError'
  constructor (path: string, reason: string, cause?: unknown) {
    super(`identity key ${path} cannot be read: ${reason}; refusing to create another ` +
      '(make it the key file again, or move it away to create a new identity)', { cause })
    this.name = 'IdentityUnreadableError'
  }
}
