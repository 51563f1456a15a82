// Fault injection: rules that select requests and break their answer in one chosen way.

import { Header, MediaType } from './constants.js';
import { codeForStatus, errorBody } from './errors.js';
import type { Reply, RequestInfo } from './http.js';
import { type RequestMatcher, checkCount, describeMatcher, matchesRequest } from './matcher.js';

/**
 * What a fault does. `status` and `garbage` answer instead of the registry (no state changes); `drop`, `corrupt`
 * `slow` and `late` let the registry handle the request (state changes happen, e.g. a PATCH is stored) and then break the
 * response body.
 */
export type FaultAction =
  | {
      /** Answer `status` with a spec-shaped JSON error body; `retryAfter` (seconds) sets `Retry-After`. */
      kind: 'status';
      status: number;
      retryAfter?: number;
      headers?: Record<string, string>;
    }
  | {
      /**
       * Send the headers (with the full Content-Length) and `afterBytes` body bytes, then destroy the socket. When the
       * body has no more than `afterBytes` bytes (HEAD, 201, 202...), destroy the socket without answering.
       */
      kind: 'drop';
      afterBytes: number;
    }
  | {
      /** Serve the body with every byte inverted: same length, wrong digest. Headers are unchanged. */
      kind: 'corrupt';
    }
  | {
      /**
       * Send the body in `chunkBytes` pieces (default 1024) with `delayMs` between them (default 20), shortened so
       * the whole body takes at most `maxTotalMs` (default 2000).
       */
      kind: 'slow';
      chunkBytes?: number;
      delayMs?: number;
      maxTotalMs?: number;
    }
  | {
      /** Hold the (correct) answer `delayMs` before sending it, like a busy registry: requests overlap in time. */
      kind: 'late';
      delayMs: number;
    }
  | {
      /** Answer `status` (default 200) with a non-registry body, like a captive portal or a proxy error page. */
      kind: 'garbage';
      status?: number;
      contentType?: string;
      body?: string;
    };

/** A fault rule: which requests, which of their occurrences, and what to do. */
export interface FaultRule extends RequestMatcher {
  action: FaultAction;
  /** Matching requests to let through before the rule starts firing. Default 0. */
  skip?: number;
  /** How many times the rule fires after `skip`. Default Infinity (every matching request). */
  times?: number;
}

/** A live rule, returned by `inject`. */
export interface FaultHandle {
  /** Rule number, also recorded on each request it fired on. */
  readonly id: number;
  /** Requests the rule matched (fired or not). */
  readonly seen: number;
  /** Requests the rule acted on. */
  readonly fired: number;
  /** Stops the rule; its counters stay readable. */
  remove(): void;
}

/** A fault chosen for a request. */
export interface FiredFault {
  readonly id: number;
  readonly action: FaultAction;
}

interface ActiveRule {
  readonly id: number;
  readonly rule: FaultRule;
  seen: number;
  fired: number;
  removed: boolean;
}

const DEFAULT_GARBAGE = '<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>\n';

function checkStatus(status: number | undefined, where: string): void {
  if (status !== undefined && (!Number.isInteger(status) || status < 100 || status > 599)) {
    throw new TypeError(`${where} must be an HTTP status 100-599, got ${status}`);
  }
}

function checkAction(action: FaultAction): void {
  switch (action.kind) {
    case 'status':
      checkStatus(action.status, 'inject: rule.action.status');
      checkCount(action.retryAfter, 'inject: rule.action.retryAfter');
      return;
    case 'drop':
      checkCount(action.afterBytes, 'inject: rule.action.afterBytes');
      return;
    case 'slow':
      checkCount(action.chunkBytes, 'inject: rule.action.chunkBytes');
      checkCount(action.delayMs, 'inject: rule.action.delayMs');
      checkCount(action.maxTotalMs, 'inject: rule.action.maxTotalMs');
      if (action.chunkBytes === 0) throw new TypeError('inject: rule.action.chunkBytes must be positive');
      return;
    case 'garbage':
      checkStatus(action.status, 'inject: rule.action.status');
      return;
    case 'late':
      checkCount(action.delayMs, 'inject: rule.action.delayMs');
      return;
    case 'corrupt':
      return;
  }
}

/** The rules of one registry, in injection order. */
export class FaultSet {
  private readonly rules: ActiveRule[] = [];
  private nextId = 1;

  /** Adds a rule after validating it (TypeError naming the bad field). */
  add(rule: FaultRule): FaultHandle {
    checkAction(rule.action);
    checkCount(rule.skip, 'inject: rule.skip');
    checkCount(rule.times, 'inject: rule.times');
    const active: ActiveRule = { id: this.nextId++, rule, seen: 0, fired: 0, removed: false };
    this.rules.push(active);
    return {
      id: active.id,
      get seen() {
        return active.seen;
      },
      get fired() {
        return active.fired;
      },
      remove: () => {
        active.removed = true;
      },
    };
  }

  /** Removes every rule. */
  clear(): void {
    for (const rule of this.rules) rule.removed = true;
    this.rules.length = 0;
  }

  /**
   * Counts the request against every live rule that matches it and returns the first one due to fire (past its
   * `skip`, within its `times`), counting that firing.
   */
  take(request: RequestInfo): FiredFault | undefined {
    let chosen: ActiveRule | undefined;
    for (const active of this.rules) {
      if (active.removed || !matchesRequest(active.rule, request)) continue;
      active.seen++;
      const due = active.seen > (active.rule.skip ?? 0) && active.fired < (active.rule.times ?? Infinity);
      if (due && !chosen) chosen = active;
    }
    if (!chosen) return undefined;
    chosen.fired++;
    return { id: chosen.id, action: chosen.rule.action };
  }

  /** One line per live rule with its counters, for debugging a failed test. */
  describe(): string[] {
    return this.rules
      .filter((r) => !r.removed)
      .map((r) => `#${r.id} ${describeMatcher(r.rule)} ${r.rule.action.kind} seen=${r.seen} fired=${r.fired}`);
  }
}

/** True for actions that answer instead of the registry. */
export function answersInstead(action: FaultAction): action is Extract<FaultAction, { kind: 'status' | 'garbage' }> {
  return action.kind === 'status' || action.kind === 'garbage';
}

/** The reply of a `status` or `garbage` fault. */
export function faultReply(action: Extract<FaultAction, { kind: 'status' | 'garbage' }>): Reply {
  if (action.kind === 'garbage') {
    return {
      status: action.status ?? 200,
      headers: { [Header.contentType]: action.contentType ?? 'text/html; charset=utf-8' },
      body: Buffer.from(action.body ?? DEFAULT_GARBAGE),
    };
  }
  const headers: Record<string, string> = { [Header.contentType]: MediaType.json, ...action.headers };
  if (action.retryAfter !== undefined) headers[Header.retryAfter] = String(action.retryAfter);
  const code = codeForStatus(action.status);
  return { status: action.status, headers, body: errorBody(code, `injected fault: ${action.status}`) };
}

/** The body a `corrupt` fault serves: every byte inverted, so the length is right and the digest is not. */
export function corrupt(body: Uint8Array): Uint8Array {
  return Uint8Array.from(body, (b) => b ^ 0xff);
}
