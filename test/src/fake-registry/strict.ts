// Strict mode: the test declares the requests it allows; anything else is answered 500 and remembered, so a test
// that forgets to call assertNoUnexpected() still fails on the client side.

import type { Listener, RequestInfo } from './http.js';
import { type RequestMatcher, checkCount, describeMatcher, matchesRequest } from './matcher.js';

/** A request a strict test allows. */
export interface Expectation extends RequestMatcher {
  /** How many matching requests are allowed; later ones are unexpected. Default Infinity. */
  times?: number;
}

/** A request strict mode refused. */
export interface UnexpectedRequest {
  readonly listener: Listener;
  readonly method: string;
  readonly path: string;
  /** Raw query string without `?` (empty when none). */
  readonly query: string;
}

interface Allowance {
  readonly expectation: Expectation;
  used: number;
}

/** The expectations of one registry and the requests they refused. */
export class StrictGate {
  private readonly allowances: Allowance[] = [];
  private readonly refused: UnexpectedRequest[] = [];
  private enabled = false;

  /** Turns strict mode on (it stays on until {@link clear}) and adds expectations. */
  expect(expectations: readonly Expectation[]): void {
    expectations.forEach((e, i) => {
      checkCount(e.times, `expect: expectations[${i}].times`);
    });
    this.enabled = true;
    for (const expectation of expectations) this.allowances.push({ expectation, used: 0 });
  }

  /** Turns strict mode off and forgets expectations and refused requests. */
  clear(): void {
    this.enabled = false;
    this.allowances.length = 0;
    this.refused.length = 0;
  }

  /**
   * True when strict mode is off or an expectation with budget left matches (its budget is used); otherwise the
   * request is recorded as unexpected and false is returned.
   */
  admit(request: RequestInfo): boolean {
    if (!this.enabled) return true;
    const allowance = this.allowances.find(
      (a) => a.used < (a.expectation.times ?? Infinity) && matchesRequest(a.expectation, request),
    );
    if (allowance) {
      allowance.used++;
      return true;
    }
    this.refused.push({
      listener: request.listener,
      method: request.method,
      path: request.path,
      query: request.query.toString(),
    });
    return false;
  }

  /** The requests refused so far. */
  get unexpected(): readonly UnexpectedRequest[] {
    return [...this.refused];
  }

  /** Throws an Error listing every refused request and the expectations in force, if there was any. */
  assertNoUnexpected(): void {
    if (this.refused.length === 0) return;
    const lines = this.refused.map((r) => `  ${r.method} ${r.path}${r.query ? `?${r.query}` : ''} (${r.listener})`);
    const allowed = this.allowances.map(
      (a) => `  ${describeMatcher(a.expectation)} used ${a.used}/${a.expectation.times ?? 'any'}`,
    );
    throw new Error(
      `fake registry: ${this.refused.length} unexpected request(s):\n${lines.join('\n')}\nexpected:\n${allowed.join('\n')}`,
    );
  }
}
