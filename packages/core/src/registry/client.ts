/**
 * The entry point for remote registries: one client (connection pool, credentials, token cache, retries) handing out
 * repositories by reference.
 */
import { credentialProvider, type CredentialOptions, type RegistryCredential } from '../credentials.js';
import { ErrorCodes, LadingError } from '../errors.js';
import { parseReference, type Reference } from '../reference.js';
import type { CredentialProvider } from './auth.js';
import { RegistryHTTP, type RegistryHTTPOptions } from './http.js';
import { RemoteRepository, type RemoteRepositoryOptions } from './repository.js';

/** Options of {@link RegistryClient}. */
export interface RegistryClientOptions
  extends Omit<RegistryHTTPOptions, 'credentials'>, Omit<RemoteRepositoryOptions, 'http' | 'registry' | 'repository'> {
  /**
   * Where credentials come from. Default: the docker config (`DOCKER_CONFIG` or `~/.docker/config.json`, with
   * credential helpers) and the containers auth file, read only when a registry asks. `false`: anonymous only.
   */
  credentials?: CredentialProvider | false;
  /** One credential for every registry this client talks to (from flags); overrides `credentials`. */
  credential?: RegistryCredential;
  /** Options for the default credential look-up (environment, home directory, helper timeout). */
  credentialOptions?: Omit<CredentialOptions, 'signal' | 'credential'>;
}

/**
 * Talks to OCI registries. Share one client for many repositories so connections and tokens are reused; close it
 * when done.
 */
export class RegistryClient {
  /** The HTTP layer shared by every repository of this client. */
  readonly http: RegistryHTTP;
  private readonly options: RegistryClientOptions;

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
    const { credentials, credential, credentialOptions, ...rest } = options;
    const httpOptions: RegistryHTTPOptions = { ...rest };
    if (credential !== undefined) {
      httpOptions.credentials = credentialProvider({ ...credentialOptions, credential });
    } else if (credentials !== false) {
      httpOptions.credentials = credentials ?? credentialProvider(credentialOptions ?? {});
    }
    this.http = new RegistryHTTP(httpOptions);
  }

  /**
   * A repository by reference (`host/path`, any tag or digest ignored) or parsed {@link Reference}. Throws
   * `ERR_LADING_INVALID_REFERENCE` on a malformed reference.
   */
  repository(reference: string | Reference): RemoteRepository {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    if (!ref.repository) throw new LadingError(ErrorCodes.invalidReference, `reference ${ref.registry}: no repository`);
    const repoOptions: RemoteRepositoryOptions = {
      http: this.http,
      registry: ref.registry,
      repository: ref.repository,
    };
    const o = this.options;
    if (o.manifestSizeLimit !== undefined) repoOptions.manifestSizeLimit = o.manifestSizeLimit;
    if (o.chunkSize !== undefined) repoOptions.chunkSize = o.chunkSize;
    if (o.referrers !== undefined) repoOptions.referrers = o.referrers;
    if (o.deleteSupersededReferrersIndex !== undefined)
      repoOptions.deleteSupersededReferrersIndex = o.deleteSupersededReferrersIndex;
    if (o.tagPageSize !== undefined) repoOptions.tagPageSize = o.tagPageSize;
    if (o.maxFallbackReads !== undefined) repoOptions.maxFallbackReads = o.maxFallbackReads;
    if (o.maxPages !== undefined) repoOptions.maxPages = o.maxPages;
    return new RemoteRepository(repoOptions);
  }

  /** Closes the connection pool. */
  async close(): Promise<void> {
    await this.http.close();
  }
}
