/**
 * `login`: check a credential against a registry's `/v2/` endpoint, then store it where docker, oras and lading read
 * credentials (see {@link storeCredentials}); `logout` is {@link eraseCredentials}.
 */
import {
  createCredential,
  storeCredentials,
  type CredentialStoreOptions,
  type RegistryCredential,
  type StoredCredential,
} from './credentials.js';
import { ErrorCodes, LadingError } from './errors.js';
import { DockerHub, dialHost } from './reference.js';
import { RegistryClient, type RegistryClientOptions } from './registry/client.js';
import { discardBody } from './registry/http.js';

/** Options of {@link checkCredentials} and {@link login}. */
export interface LoginOptions extends CredentialStoreOptions {
  /**
   * How to reach the registry for the check: plain HTTP, CA, client certificate, retries, user agent. Default: the
   * registry client's defaults (HTTPS, plain HTTP for loopback registries).
   */
  transport?: Omit<RegistryClientOptions, 'credential' | 'credentials' | 'credentialOptions'>;
}

/** What {@link login} did. */
export interface LoginResult extends StoredCredential {
  /** The user name logged in as (absent for an identity token without one). */
  readonly username?: string;
}

/**
 * The registry a `login`/`logout` argument names: `ghcr.io`, `localhost:5000`, `https://ghcr.io/` or
 * `docker.io` → `ghcr.io`, `localhost:5000`, `docker.io` (Docker Hub's names and `https://index.docker.io/v1/` give
 * `docker.io`). Throws `ERR_LADING_USAGE` for anything that is not `host[:port]`.
 */
export function loginRegistry(input: string): string {
  const trimmed = input.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const host = (trimmed.split('/')[0] ?? '').toLowerCase();
  if (!/^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::\d{1,5})?$/.test(host)) {
    throw new LadingError(
      ErrorCodes.usage,
      `login ${JSON.stringify(input)}: name a registry as host[:port], e.g. ghcr.io or localhost:5000`,
    );
  }
  return ['docker.io', 'index.docker.io', DockerHub.host].includes(host) ? DockerHub.registry : host;
}

/**
 * Checks `credential` against the registry's API root `GET /v2/` (answering its Basic or Bearer challenge with the
 * credential, a token asked for with no scope, as `docker login` does). Resolves when the registry answers 200.
 * Rejects with `ERR_LADING_AUTH` when it refuses the credential (401/403, or a token server refusing it), with
 * `ERR_LADING_PROTOCOL` for another status, with `ERR_LADING_NETWORK` when it cannot be reached. Messages never hold
 * the secret.
 */
export async function checkCredentials(
  registry: string,
  credential: RegistryCredential,
  options: LoginOptions = {},
): Promise<void> {
  const name = loginRegistry(registry);
  const client = new RegistryClient({ ...options.transport, credential: createCredential(credential) });
  try {
    const base = client.http.baseURL(dialHost(name));
    const url = new URL('/v2/', base);
    const res = await client.http.send(base, name, {
      method: 'GET',
      url,
      scopes: [],
      ...(options.signal && { signal: options.signal }),
    });
    discardBody(res);
    if (res.status === 200) return;
    if (res.status === 401 || res.status === 403) {
      throw new LadingError(
        ErrorCodes.auth,
        `login ${name}: the registry refused the credentials (HTTP ${res.status})`,
      );
    }
    throw new LadingError(
      ErrorCodes.protocol,
      `login ${name}: GET /v2/ answered HTTP ${res.status}, not 200: is this an OCI registry?`,
    );
  } finally {
    await client.close();
  }
}

/**
 * `docker login` for lading: {@link checkCredentials}, then {@link storeCredentials} (credential helper, credential
 * store or the docker config's `auths`, mode 0600). Nothing is stored when the check fails.
 */
export async function login(
  registry: string,
  credential: RegistryCredential,
  options: LoginOptions = {},
): Promise<LoginResult> {
  const name = loginRegistry(registry);
  await checkCredentials(name, credential, options);
  const { transport: _transport, ...storeOptions } = options;
  const stored = await storeCredentials(name, credential, storeOptions);
  const username = 'username' in credential ? credential.username : undefined;
  return { ...stored, ...(username === undefined ? {} : { username }) };
}
