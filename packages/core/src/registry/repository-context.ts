/**
 * What the parts of a remote repository (blob uploads, referrers, listings) share: its name, its URLs and token
 * scopes, and the one HTTP layer that sends its requests. {@link RemoteRepository} builds one and hands it to each
 * part, so each part owns one step of the protocol and none reaches into another's state.
 */
import type { CallOptions } from '../content.js';
import type { RegistryRequest, RegistryResponse } from './http.js';
import type { RetryPolicy } from './retry.js';

/** A request of a repository: the scopes default to pulling from it. */
export type RepositoryRequest = Omit<RegistryRequest, 'scopes'> & { scopes?: readonly string[] };

/** The shared facts and the transport of one remote repository. */
export interface RepositoryContext {
  /** `registry/repository`, for messages. */
  readonly name: string;
  /** The repository path, e.g. `acme/config`. */
  readonly repository: string;
  /** The registry's base URL (scheme and dialled host). */
  readonly base: URL;
  /** The retry policy of the HTTP layer (attempts and backoff). */
  readonly retry: RetryPolicy;
  /** Largest manifest or listing read into memory. */
  readonly manifestSizeLimit: number;
  /** Pages followed at most in a paginated listing. */
  readonly maxPages: number;
  /** `/v2/<repository>/<path>` on the registry. */
  url(path: string): URL;
  /** The token scopes of a request: pull, or pull and push, plus `extra`. */
  scopes(push: boolean, extra?: readonly string[]): string[];
  /** Sends a request through the shared HTTP layer (auth, retries, redirects). */
  send(req: RepositoryRequest): Promise<RegistryResponse>;
}

/** `{ signal }` of `options` when it has one, for spreading into a request. */
export function signalOf(options?: CallOptions): { signal?: AbortSignal } {
  return options?.signal ? { signal: options.signal } : {};
}
