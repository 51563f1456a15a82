/**
 * `--debug`: the registry client's `node:diagnostics_channel` events as plain lines. The events carry no secrets (no
 * headers; URL query values other than known-safe ones are redacted by the core), so they print as they are.
 */
import diagnostics from 'node:diagnostics_channel';

import { DiagnosticsChannels } from '@lading/core';

/** A request event of {@link DiagnosticsChannels.request}. */
interface RequestEvent {
  method?: unknown;
  url?: unknown;
  status?: unknown;
  attempt?: unknown;
  durationMs?: unknown;
}

/** A retry event of {@link DiagnosticsChannels.retry}. */
interface RetryEvent {
  method?: unknown;
  url?: unknown;
  attempt?: unknown;
  delayMs?: unknown;
  reason?: unknown;
}

const text = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '?');

/** `debug: GET http://127.0.0.1:5000/v2/acme/app/manifests/v1 200 12ms` (with ` attempt N` on replays). */
export function formatRequestEvent(event: RequestEvent): string {
  const attempt = typeof event.attempt === 'number' && event.attempt > 0 ? ` attempt ${event.attempt + 1}` : '';
  return `debug: ${text(event.method)} ${text(event.url)} ${text(event.status)} ${text(event.durationMs)}ms${attempt}`;
}

/** `debug: retry GET http://… in 200ms (attempt 1 failed: HTTP 503)`. */
export function formatRetryEvent(event: RetryEvent): string {
  const attempt = typeof event.attempt === 'number' ? event.attempt + 1 : '?';
  return `debug: retry ${text(event.method)} ${text(event.url)} in ${text(event.delayMs)}ms (attempt ${attempt} failed: ${text(event.reason)})`;
}

/**
 * Prints every registry request and retry on `write` (standard error) until the returned function is called.
 */
export function traceRegistry(write: (line: string) => void): () => void {
  const onRequest = (message: unknown): void => {
    write(`${formatRequestEvent(message as RequestEvent)}\n`);
  };
  const onRetry = (message: unknown): void => {
    write(`${formatRetryEvent(message as RetryEvent)}\n`);
  };
  diagnostics.subscribe(DiagnosticsChannels.request, onRequest);
  diagnostics.subscribe(DiagnosticsChannels.retry, onRetry);
  return () => {
    diagnostics.unsubscribe(DiagnosticsChannels.request, onRequest);
    diagnostics.unsubscribe(DiagnosticsChannels.retry, onRetry);
  };
}
