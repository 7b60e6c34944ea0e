/**
 * @module materializer/errors
 * Operating errors of the materializer (STYLE §10): one class per condition, matched by `name`.
 */

/** A template is not valid YAML, not one Kubernetes object, or uses a construct we do not render. */
export class TemplateError extends Error {
  static override readonly name = 'TemplateError'
  constructor (message = 'invalid manifest template') {
    super(message)
    this.name = 'TemplateError'
  }
}

/** A template names a variable that the materializer does not provide (it would render as an empty string). */
export class TemplateVariableError extends Error {
  static override readonly name = 'TemplateVariableError'
  constructor (readonly variable: string, template: string) {
    super(`template ${template} uses unknown variable {{${variable}}}`)
    this.name = 'TemplateVariableError'
  }
}

/** A template's bytes do not hash to the CID the catalog names. */
export class TemplateCidMismatchError extends Error {
  static override readonly name = 'TemplateCidMismatchError'
  constructor (cid: string) {
    super(`template bytes do not match their CID ${cid}`)
    this.name = 'TemplateCidMismatchError'
  }
}

/** The catalog names content that no provider could deliver (yet). */
export class TemplateUnavailableError extends Error {
  static override readonly name = 'TemplateUnavailableError'
  constructor (cid: string, cause?: string) {
    super(`template ${cid} is not available${cause !== undefined ? `: ${cause}` : ''}`)
    this.name = 'TemplateUnavailableError'
  }
}

/**
 * A template's fetch did not end within the time a reconcile waits for it (TEMPLATE_FETCH_WAIT_MS): it goes on
 * (up to TEMPLATE_FETCH_TIMEOUT_MS), the template's manifest stays as it is meanwhile, and a reconcile renders
 * it when it arrives.
 */
export class TemplatePendingError extends Error {
  static override readonly name = 'TemplatePendingError'
  constructor (cid: string, waitedMs: number) {
    super(`template ${cid} is still being fetched after ${waitedMs} ms; its manifest is written when it arrives`)
    this.name = 'TemplatePendingError'
  }
}

/** The content layer is not running on this node, so catalog templates cannot be stored or fetched. */
export class ContentUnavailableError extends Error {
  static override readonly name = 'ContentUnavailableError'
  constructor (message = 'the content layer is not running on this node: catalog templates cannot be stored or fetched') {
    super(message)
    this.name = 'ContentUnavailableError'
  }
}

/** A hook exited non-zero, was killed by its timeout, or could not be started. */
export class HookFailedError extends Error {
  static override readonly name = 'HookFailedError'
  constructor (message: string) {
    super(message)
    this.name = 'HookFailedError'
  }
}

/**
 * The materializer's state file cannot be read, or is not what this node writes (not JSON, `null`: a hand
 * edit). It is the record of which manifests this node wrote, so the node does not start without it rather
 * than guess: the message names the file and the ways out.
 */
export class MaterializerStateError extends Error {
  static override readonly name = 'MaterializerStateError'
  constructor (readonly file: string, reason: string, manifestDir: string, cause?: unknown) {
    super(`materializer state file ${file}: ${reason}. It records which manifests in ${manifestDir} this node wrote. ` +
      'Fix it by hand or restore it from a backup; or delete it: the node then manages none of the files in that ' +
      'directory until it writes them (any of them left there is a conflict, never updated or removed: delete ' +
      'those this node wrote too, and it writes them again), and its promote hooks run once more', { cause })
    this.name = 'MaterializerStateError'
  }
}

/**
 * The disk under the manifest directory or the state file is full (ENOSPC, EDQUOT): the file was not written
 * and its temporary file is gone. The next reconcile writes it once there is room.
 */
export class DiskFullError extends Error {
  static override readonly name = 'DiskFullError'
  constructor (readonly file: string, cause?: unknown) {
    super(`disk full while writing ${file}; it is written at a reconcile once there is room`, { cause })
    this.name = 'DiskFullError'
  }
}
