/**
 * @module codec/errors
 * Operating errors of decoding untrusted bytes (STYLE §10). Callers match on `name`.
 */

/** The bytes are not valid CBOR (or not the DAG-CBOR profile: undefined, NaN, non-string keys…). */
export class MalformedEncodingError extends Error {
  static override readonly name = 'MalformedEncodingError'
  constructor (message = 'malformed encoding') {
    super(message)
    this.name = 'MalformedEncodingError'
  }
}

/** Valid CBOR, but not in its canonical form (e.g. unsorted map keys): one value, one encoding. */
export class NonCanonicalEncodingError extends Error {
  static override readonly name = 'NonCanonicalEncodingError'
  constructor (message = 'non-canonical encoding') {
    super(message)
    this.name = 'NonCanonicalEncodingError'
  }
}
