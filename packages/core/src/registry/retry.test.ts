import { describe, expect, it } from 'vitest';

import { DefaultRetryPolicy, backoffDelay, isRetryableStatus, isTransientError, parseRetryAfter } from './retry.js';

describe('retry policy', () => {
  it('retries 408, 429 and 5xx but not 501/505 or 4xx', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 412, 416, 501, 505].some(isRetryableStatus)).toBe(false);
  });

  it('recognises connection failures through the cause chain', () => {
    const inner = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    expect(isTransientError(new Error('fetch failed', { cause: inner }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('x'), { code: 'ERR_INVALID_URL' }))).toBe(false);
  });

  it('parses Retry-After seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('backs off exponentially with jitter, capped', () => {
    const p = DefaultRetryPolicy;
    expect(backoffDelay(p, 0, () => 0)).toBe(p.minDelayMs / 2);
    expect(backoffDelay(p, 0, () => 1)).toBe(p.minDelayMs);
    expect(backoffDelay(p, 3, () => 1)).toBe(p.minDelayMs * 8);
    expect(backoffDelay(p, 20, () => 1)).toBe(p.maxDelayMs);
  });
});
