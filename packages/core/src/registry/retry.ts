/**
 * Retry policy for registry requests: which failures are transient, and how long to wait.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** How transient failures are retried. */
export interface RetryPolicy {
  /** Attempts after the first. Default 4 (so at most 5 requests). */
  retries: number;
  /** First backoff in milliseconds; doubles each attempt, with full jitter. Default 200. */
  minDelayMs: number;
  /** Largest backoff in milliseconds. Default 5,000. */
  maxDelayMs: number;
  /**
   * Largest `Retry-After` lading will honour, in milliseconds. A registry asking for a longer wait fails the request
   * with its message instead (Docker Hub sends 60 s; oras caps at 3 s and fails). Default 30,000.
   */
  maxRetryAfterMs: number;
}

/** The default {@link RetryPolicy}. */
export const DefaultRetryPolicy: RetryPolicy = Object.freeze({
  retries: 4,
  minDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
});

/** Statuses worth another try: request timeout, too many requests, and server errors except 501/505. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/** Error codes of connection-level failures that a retry can cure. */
const transientCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** True when `error` (or its cause) is a connection failure a retry can cure. */
export function isTransientError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && transientCodes.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Milliseconds a `Retry-After` header asks for (delta seconds or an HTTP date), or undefined when absent or
 * unparseable. `now` is for tests.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const when = Date.parse(trimmed);
  return Number.isNaN(when) ? undefined : Math.max(0, when - now);
}

/** Backoff before retry number `attempt` (0-based): exponential with full jitter, capped by the policy. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Waits `ms`, rejecting early with `signal.reason` when `signal` aborts. */
export async function wait(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    // Reject with the caller's reason, as every other aborted operation does, not Node's generic AbortError.
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
}
