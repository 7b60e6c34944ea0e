/**
 * CLI argument forms that need parsing.
 */
import { describe, expect, it } from 'vitest'
import { parseHostPort } from '../../src/cli/args.js'
import { CliInputError } from '../../src/cli/validate.js'

describe('parseHostPort', () => {
  it('should split host and port when given IPv4, a name or bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 })
    expect(parseHostPort('localhost:8080')).toEqual({ host: 'localhost', port: 8080 })
    expect(parseHostPort('[::1]:9')).toEqual({ host: '::1', port: 9 })
  })

  it('should reject a value without a valid port', () => {
    expect(() => parseHostPort('127.0.0.1')).toThrow(/HOST:PORT/)
    expect(() => parseHostPort('127.0.0.1:70000')).toThrow(/HOST:PORT/)
    // Typed, so the CLI exits 3 (invalid input) as the README says, not 1.
    expect(() => parseHostPort('foo')).toThrow(CliInputError)
  })
})
