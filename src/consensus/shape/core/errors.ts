/**
 * @module consensus/shape/core/errors
 * Operating errors of the MeshShape core (STYLE §10). Callers match on `name`. (Commands never throw:
 * a command that cannot apply is a typed rejection in its ApplyResult.)
 */

/** Shape data (a snapshot's machine bytes) is not a valid MeshShape; the restore is refused. */
export class ShapeDataInvalidError extends Error {
  static override readonly name = 'ShapeDataInvalidError'
  constructor (message = 'invalid shape data') {
    super(message)
    this.name = 'ShapeDataInvalidError'
  }
}
