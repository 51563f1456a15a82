/**
 * OIDC identity tokens for keyless signing, from the environment: `SIGSTORE_ID_TOKEN` (any CI, GitLab included),
 * GitHub Actions' token endpoint and the Buildkite agent's. The interactive browser flow is in oidc-login.ts.
 */
import { ErrorCodes, LadingError } from '@lading/core';
import { attributeError } from '@lading/core/internal';
import { SigstoreAudience } from './media-types.js';
import { readJSONReply } from './service-reply.js';

/** Returns an OIDC identity token for Fulcio; called once per signature (tokens are short-lived). */
export type IdentityTokenProvider = (options?: { signal?: AbortSignal | undefined }) => Promise<string>;

/** Options of {@link ambientIdentityToken}. */
export interface AmbientIdentityTokenOptions {
  /**
   * Where to read `SIGSTORE_ID_TOKEN`, `ACTIONS_ID_TOKEN_REQUEST_*` and `BUILDKITE_*`. Default `process.env`, read
   * at each call.
   */
  env?: NodeJS.ProcessEnv;
  /** Audience asked of GitHub Actions and Buildkite. Default `sigstore`, what Fulcio accepts. */
  audience?: string;
  /** The fetch to use (tests pass one). Default the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * A provider of ambient identity tokens: `SIGSTORE_ID_TOKEN` when set (it wins, so a CI job can override), else
 * GitHub Actions (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, present when the workflow has
 * `permissions: id-token: write`): GET that URL with `audience` added and `Authorization: Bearer <request token>`,
 * answer `{"value": "<token>"}`; else a Buildkite job (`BUILDKITE_AGENT_ACCESS_TOKEN` and `BUILDKITE_JOB_ID`, as
 * cosign's `buildkite-agent` provider): POST `{"audience": …}` to `<BUILDKITE_AGENT_ENDPOINT, default
 * https://agent.buildkite.com/v3>/jobs/<job>/oidc/tokens` with `Authorization: Token <agent token>`, answer
 * `{"token": "<token>"}`. Rejects with `ERR_LADING_AUTH` when none is there or the CI refuses; messages never
 * contain the request tokens or the identity token.
 */
export function ambientIdentityToken(options: AmbientIdentityTokenOptions = {}): IdentityTokenProvider {
  return (call = {}) =>
    ambientToken(options, call.signal).catch((e: unknown) => {
      throw attributeError(e, IdentityProviderService);
    });
}

/** The service named on identity token failures (`LadingError.service`). */
export const IdentityProviderService = 'identity provider';

async function ambientToken(options: AmbientIdentityTokenOptions, signal: AbortSignal | undefined): Promise<string> {
  const env = options.env ?? process.env;
  const token = env.SIGSTORE_ID_TOKEN?.trim();
  if (token) return token;
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (url && bearer) {
    return githubActionsToken(url, bearer, options.audience ?? SigstoreAudience, options.fetch ?? fetch, signal);
  }
  const agentToken = env.BUILDKITE_AGENT_ACCESS_TOKEN;
  if (agentToken) {
    const job = env.BUILDKITE_JOB_ID;
    if (!job) {
      throw new LadingError(ErrorCodes.auth, 'identity token buildkite: BUILDKITE_JOB_ID is not set');
    }
    const endpoint = env.BUILDKITE_AGENT_ENDPOINT || DefaultBuildkiteAgentEndpoint;
    const audience = options.audience ?? SigstoreAudience;
    return buildkiteToken(endpoint, job, agentToken, audience, options.fetch ?? fetch, signal);
  }
  throw new LadingError(
    ErrorCodes.auth,
    'identity token: none in the environment (set SIGSTORE_ID_TOKEN, or run in GitHub Actions with ' +
      'permissions id-token: write, or in a Buildkite job, or pass a token)',
  );
}

/**
 * True when the environment offers an identity token {@link ambientIdentityToken} would try: `SIGSTORE_ID_TOKEN`,
 * GitHub Actions' request URL and token, or a Buildkite agent token. Says nothing about whether the CI will grant one.
 */
export function hasAmbientIdentityToken(env: NodeJS.ProcessEnv = process.env): boolean {
  return (
    (env.SIGSTORE_ID_TOKEN?.trim() ?? '') !== '' ||
    (Boolean(env.ACTIONS_ID_TOKEN_REQUEST_URL) && Boolean(env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)) ||
    Boolean(env.BUILDKITE_AGENT_ACCESS_TOKEN)
  );
}

/** The Buildkite agent API cosign and the agent use when `BUILDKITE_AGENT_ENDPOINT` is not set. */
export const DefaultBuildkiteAgentEndpoint = 'https://agent.buildkite.com/v3';

async function githubActionsToken(
  requestURL: string,
  bearer: string,
  audience: string,
  fetchImpl: typeof fetch,
  signal: AbortSignal | undefined,
): Promise<string> {
  const what = 'identity token github-actions';
  let url: URL;
  try {
    url = new URL(requestURL);
  } catch (e) {
    throw new LadingError(ErrorCodes.auth, `${what}: ACTIONS_ID_TOKEN_REQUEST_URL is not a URL`, { cause: e });
  }
  url.searchParams.set('audience', audience);
  const init = { headers: { Accept: 'application/json', Authorization: `Bearer ${bearer}` } };
  return requestToken(what, url, init, 'value', fetchImpl, signal);
}

async function buildkiteToken(
  endpoint: string,
  job: string,
  agentToken: string,
  audience: string,
  fetchImpl: typeof fetch,
  signal: AbortSignal | undefined,
): Promise<string> {
  const what = 'identity token buildkite';
  let url: URL;
  try {
    url = new URL(`jobs/${encodeURIComponent(job)}/oidc/tokens`, endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
  } catch (e) {
    throw new LadingError(ErrorCodes.auth, `${what}: BUILDKITE_AGENT_ENDPOINT is not a URL`, { cause: e });
  }
  const init = {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: `Token ${agentToken}` },
    body: JSON.stringify({ audience }),
  };
  return requestToken(what, url, init, 'token', fetchImpl, signal);
}

/**
 * Asks a CI's token endpoint for an identity token: `ERR_LADING_NETWORK` when it cannot be reached,
 * `ERR_LADING_AUTH` when it refuses or its JSON answer has no string `field`. Messages name the host, never the
 * request's credentials.
 */
async function requestToken(
  what: string,
  url: URL,
  init: RequestInit,
  field: string,
  fetchImpl: typeof fetch,
  signal: AbortSignal | undefined,
): Promise<string> {
  let response: Response;
  try {
    response = await fetchImpl(url, { ...init, ...(signal ? { signal } : {}) });
  } catch (e) {
    signal?.throwIfAborted();
    throw new LadingError(ErrorCodes.network, `${what}: ${url.host}: ${(e as Error).message}`, { cause: e });
  }
  if (!response.ok) {
    throw new LadingError(ErrorCodes.auth, `${what}: ${url.host} answered HTTP ${response.status}`);
  }
  const body = await readJSONReply(response, what);
  const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
  if (typeof token !== 'string' || token === '') {
    throw new LadingError(ErrorCodes.auth, `${what}: the answer has no "${field}" token`);
  }
  return token;
}
