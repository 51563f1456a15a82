import { describe, expect, it } from 'vitest';

import { attributeError, ErrorCodes, LadingError, isLadingError } from './errors.js';

describe('LadingError', () => {
  it('carries a literal code, the message and the cause', () => {
    const cause = new Error('socket hang up');
    const err = new LadingError(ErrorCodes.network, 'fetch manifest ghcr.io/acme/app:v1: connection reset', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ERR_LADING_NETWORK');
    expect(err.message).toBe('fetch manifest ghcr.io/acme/app:v1: connection reset');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('LadingError');
  });

  it('has no cause property when none is given', () => {
    expect('cause' in new LadingError(ErrorCodes.usage, 'x')).toBe(false);
  });

  it('is recognised by code', () => {
    const err = new LadingError(ErrorCodes.integrity, 'digest mismatch');
    expect(isLadingError(err)).toBe(true);
    expect(isLadingError(err, ErrorCodes.integrity)).toBe(true);
    expect(isLadingError(err, ErrorCodes.auth)).toBe(false);
    expect(isLadingError(new Error('plain'))).toBe(false);
  });

  it('uses unique codes', () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^ERR_LADING_[A-Z_]+$/);
  });

  it('is attributed to a service once, keeping code, message and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new LadingError(ErrorCodes.network, 'fetch root: refused', { cause });
    expect(err.service).toBeUndefined();
    const attributed = attributeError(err, 'tuf') as LadingError;
    expect(attributed).toMatchObject({ code: ErrorCodes.network, message: 'fetch root: refused', service: 'tuf' });
    expect(attributed.cause).toBe(cause);
    expect(attributeError(attributed, 'other')).toBe(attributed);
    const plain = new Error('plain');
    expect(attributeError(plain, 'tuf')).toBe(plain);
  });
});
