import type { Listener, RequestInfo } from './http.js';

/** Selects requests, for fault rules and strict-mode expectations. Every field left out matches anything. */
export interface RequestMatcher {
  /** Method or methods, upper case (`'GET'`, `['HEAD', 'GET']`). Default: any. */
  method?: string | readonly string[];
  /**
   * A string matches the pathname exactly; a RegExp is tested against the pathname (no query string); a function
   * receives the whole request (method, path, query, headers, listener). Default: any.
   */
  path?: string | RegExp | ((request: RequestInfo) => boolean);
  /** The registry API or the redirect storage listener. Default: either. */
  listener?: Listener;
}

/** True when `matcher` selects the request. */
export function matchesRequest(matcher: RequestMatcher, request: RequestInfo): boolean {
  const { method, path, listener } = matcher;
  if (listener !== undefined && listener !== request.listener) return false;
  if (typeof method === 'string' && method !== request.method) return false;
  if (Array.isArray(method) && !method.includes(request.method)) return false;
  if (typeof path === 'string') return path === request.path;
  if (path instanceof RegExp) {
    path.lastIndex = 0;
    return path.test(request.path);
  }
  return path === undefined || path(request);
}

/** A short human description of a matcher, for error messages. */
export function describeMatcher(matcher: RequestMatcher): string {
  const method = matcher.method === undefined ? '*' : ([] as string[]).concat(matcher.method).join('|');
  const path =
    matcher.path === undefined ? '*' : typeof matcher.path === 'function' ? '<predicate>' : String(matcher.path);
  return `${method} ${path}`;
}

/** Checks a count option: a non-negative integer or Infinity. `where` names it in the error. */
export function checkCount(value: number | undefined, where: string): void {
  if (value === undefined || value === Number.POSITIVE_INFINITY) return;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${where} must be a non-negative integer or Infinity, got ${value}`);
  }
}
