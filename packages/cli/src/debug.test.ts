import diagnostics from 'node:diagnostics_channel';

import { DiagnosticsChannels } from '@lading/core';
import { describe, expect, it } from 'vitest';

import { formatRequestEvent, formatRetryEvent, traceRegistry } from './debug.js';

describe('formatRequestEvent', () => {
  it('prints method, URL, status and time', () => {
    expect(
      formatRequestEvent({ method: 'GET', url: 'http://r/v2/a/manifests/v1', status: 200, attempt: 0, durationMs: 12 }),
    ).toBe('debug: GET http://r/v2/a/manifests/v1 200 12ms');
  });

  it('names replays', () => {
    expect(formatRequestEvent({ method: 'PUT', url: 'u', status: 201, attempt: 1, durationMs: 3 })).toBe(
      'debug: PUT u 201 3ms attempt 2',
    );
  });
});

describe('formatRetryEvent', () => {
  it('prints the delay and the reason', () => {
    expect(formatRetryEvent({ method: 'GET', url: 'u', attempt: 0, delayMs: 200, reason: 'HTTP 503' })).toBe(
      'debug: retry GET u in 200ms (attempt 1 failed: HTTP 503)',
    );
  });
});

describe('traceRegistry', () => {
  it('prints the core events until stopped', () => {
    const lines: string[] = [];
    const stop = traceRegistry((line) => lines.push(line));
    diagnostics.channel(DiagnosticsChannels.request).publish({
      method: 'HEAD',
      url: 'http://r/v2/',
      status: 401,
      attempt: 0,
      durationMs: 1,
    });
    diagnostics
      .channel(DiagnosticsChannels.retry)
      .publish({ method: 'GET', url: 'http://r/x', attempt: 0, delayMs: 5, reason: 'ECONNRESET' });
    stop();
    diagnostics.channel(DiagnosticsChannels.request).publish({ method: 'GET', url: 'late', status: 200 });
    expect(lines).toEqual([
      'debug: HEAD http://r/v2/ 401 1ms\n',
      'debug: retry GET http://r/x in 5ms (attempt 1 failed: ECONNRESET)\n',
    ]);
  });
});
