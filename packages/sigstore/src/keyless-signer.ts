/**
 * Keyless signing: an ephemeral key, a Fulcio certificate for the signer's OIDC identity, and a Rekor entry and/or
 * an RFC 3161 timestamp proving the signature was made while the certificate was valid.
 */
import type { CallOptions, SignedReferrer, Signer, SignRequest } from '@lading/core';
import { ErrorCodes, LadingError } from '@lading/core';
import type { SigningConfig } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness, TSAWitness, type Witness } from '@sigstore/sign';
import { ambientIdentityToken, type IdentityTokenProvider } from './identity-token.js';
import { PublicGoodFulcioURL, PublicGoodRekorURL } from './media-types.js';
import { signStatement, type Clock } from './referrer.js';
import { loadSigningConfig, selectServices, type SigstoreServices } from './signing-config.js';

/** Options of {@link createKeylessSigner}. */
export interface KeylessSignerOptions {
  /** A ready OIDC identity token (audience `sigstore`). Exclusive with `tokenProvider`. */
  identityToken?: string;
  /**
   * Called for a token before each signature. Default (when `identityToken` is not given either):
   * {@link ambientIdentityToken} (`SIGSTORE_ID_TOKEN`, then GitHub Actions).
   */
  tokenProvider?: IdentityTokenProvider;
  /**
   * A cosign signing config (file path, or parsed) naming Fulcio, Rekor and TSA; one service of each kind is picked
   * (see `selectServices`). The URL options below override what it names.
   */
  signingConfig?: string | SigningConfig;
  /** Fulcio base URL. Default: the signing config's, else the public good `https://fulcio.sigstore.dev`. */
  fulcioURL?: string;
  /**
   * Rekor base URL, or `false` for no log entry (then give a `tsaURL`, or the bundle has no trusted time).
   * Default: the signing config's (none if it lists none), else the public good `https://rekor.sigstore.dev`.
   */
  rekorURL?: string | false;
  /**
   * Timestamp authority: a base URL (`/api/v1/timestamp` is appended) or the full endpoint URL, or `false` for
   * none. Default: the signing config's, else none.
   */
  tsaURL?: string | false;
  /** Clock for the referrer's creation time and for picking services by validity. Default the system clock. */
  clock?: Clock;
}

/**
 * Returns a signer that, for each request, fetches an identity token, gets a Fulcio certificate for a fresh key,
 * signs the in-toto statement as a DSSE envelope, and has Rekor and/or the TSA witness it (bundle v0.3, leaf
 * certificate only). Reads the signing config (when a path) now; throws `ERR_LADING_USAGE` for a bad config or for
 * both `identityToken` and `tokenProvider`. Signing errors: `ERR_LADING_AUTH` (token), `ERR_LADING_NETWORK`
 * (Fulcio, Rekor, TSA). For a person at a terminal, `browserIdentityToken` (oidc-login.ts) gets the token.
 */
export async function createKeylessSigner(options: KeylessSignerOptions = {}): Promise<Signer> {
  const clock = options.clock ?? (() => new Date());
  const services = await resolveServices(options, clock());
  const tokens = tokenSource(options);
  return {
    sign: (request: SignRequest, call: CallOptions = {}): Promise<SignedReferrer> => {
      const builder = new DSSEBundleBuilder({
        signer: new FulcioSigner({
          fulcioBaseURL: services.fulcioURL,
          identityProvider: { getToken: () => tokens({ signal: call.signal }) },
        }),
        witnesses: witnesses(services),
      });
      return signStatement(builder, request, { clock, signal: call.signal, services });
    },
  };
}

/** The services: explicit options over the signing config over the public-good defaults. */
async function resolveServices(options: KeylessSignerOptions, now: Date): Promise<SigstoreServices> {
  const fromConfig: Partial<SigstoreServices> = options.signingConfig
    ? selectServices(await loadSigningConfig(options.signingConfig), now)
    : { fulcioURL: PublicGoodFulcioURL, rekorURL: PublicGoodRekorURL, rekorAPIVersion: 1 };
  const services: SigstoreServices = { fulcioURL: options.fulcioURL ?? fromConfig.fulcioURL ?? PublicGoodFulcioURL };
  const rekorURL = options.rekorURL === undefined ? fromConfig.rekorURL : options.rekorURL;
  if (rekorURL) {
    services.rekorURL = rekorURL;
    // An explicit URL is taken as Rekor v1, the API every deployment has; the config says which it lists.
    services.rekorAPIVersion = options.rekorURL === undefined ? (fromConfig.rekorAPIVersion ?? 1) : 1;
  }
  const tsaURL = options.tsaURL === undefined ? fromConfig.tsaURL : options.tsaURL;
  if (tsaURL) services.tsaURL = tsaURL;
  for (const url of [services.fulcioURL, services.rekorURL, services.tsaURL]) {
    if (url !== undefined) checkURL(url);
  }
  return services;
}

function witnesses(services: SigstoreServices): Witness[] {
  const list: Witness[] = [];
  if (services.rekorURL) {
    list.push(new RekorWitness({ rekorBaseURL: services.rekorURL, majorApiVersion: services.rekorAPIVersion ?? 1 }));
  }
  if (services.tsaURL) list.push(new TSAWitness({ tsaBaseURL: services.tsaURL }));
  return list;
}

function tokenSource(options: KeylessSignerOptions): IdentityTokenProvider {
  if (options.identityToken !== undefined && options.tokenProvider !== undefined) {
    throw new LadingError(ErrorCodes.usage, 'keyless signer options: give identityToken or tokenProvider, not both');
  }
  const token = options.identityToken;
  if (token !== undefined) {
    if (token.trim() === '') throw new LadingError(ErrorCodes.usage, 'keyless signer identityToken: empty');
    return () => Promise.resolve(token.trim());
  }
  return options.tokenProvider ?? ambientIdentityToken();
}

function checkURL(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (e) {
    throw new LadingError(ErrorCodes.usage, `keyless signer URL ${JSON.stringify(url)}: not a URL`, { cause: e });
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new LadingError(ErrorCodes.usage, `keyless signer URL ${JSON.stringify(url)}: not http(s)`);
  }
}
