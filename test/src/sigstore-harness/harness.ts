import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from '@sigstore/core';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { createFulcioService, type FulcioMaterial } from './fulcio.js';
import { startFakeOIDCProvider, type FakeOIDCProvider } from './oidc.js';
import { startLoopbackService, type LoopbackService, type RequestRecord, type Route } from './http.js';
import { createRekorService, type RekorMaterial } from './rekor.js';
import { buildSigningConfig, buildTrustedRoot } from './trust.js';
import { TokenIssuer, type IdentityClaims } from './token.js';
import { createTSAService, type TSAMaterial } from './tsa.js';

/** Options of {@link startSigstoreHarness}. */
export interface SigstoreHarnessOptions {
  /** OIDC issuer named in the signing config and put in tokens that name none. Default {@link DefaultOIDCIssuer}. */
  oidcIssuer?: string;
}

/** Claims of {@link SigstoreHarness.identityToken}; `issuer` defaults to the harness's OIDC issuer. */
export type IdentityTokenClaims = Omit<IdentityClaims, 'issuer'> & { issuer?: string };

/** A running offline Sigstore: Fulcio (with its CT log), Rekor v1 and a TSA on 127.0.0.1, plus trust files. */
export interface SigstoreHarness {
  /** Fulcio base URL (`POST /api/v2/signingCert`). */
  readonly fulcioURL: string;
  /**
   * CT log URL as written in the trusted root. Nominal: the mock CA logs precertificates in-process and embeds the
   * SCT, so nothing is served there (clients only need the CT log's key).
   */
  readonly ctLogURL: string;
  /** Rekor base URL (`POST /api/v1/log/entries`, `GET /api/v1/log/entries/<uuid>`). */
  readonly rekorURL: string;
  /** TSA base URL (`POST /api/v1/timestamp`, JSON or `application/timestamp-query`). */
  readonly tsaURL: string;
  /** The OIDC issuer in the signing config and the default `iss` of tokens. Not served. */
  readonly oidcIssuer: string;
  /**
   * A served fake OIDC provider (discovery, authorization code with PKCE, loopback redirects) for the interactive
   * login; its URL is the issuer of the tokens it gives, which Fulcio certifies like any other. See oidc.ts.
   */
  readonly oidcProvider: FakeOIDCProvider;
  /** The trusted root, ready for `toTrustMaterial` of `@sigstore/verify`. */
  readonly trustedRoot: TrustedRoot;
  /** `trusted_root.json` for `cosign --trusted-root`, in {@link SigstoreHarness.directory}. */
  readonly trustedRootPath: string;
  /** The signing config pointing at the harness services. */
  readonly signingConfig: SigningConfig;
  /** `signing_config.json` for `cosign --signing-config`, in {@link SigstoreHarness.directory}. */
  readonly signingConfigPath: string;
  /** Temporary folder holding the trust files and the tool home; removed by {@link SigstoreHarness.close}. */
  readonly directory: string;
  /**
   * Environment for peer tools (cosign) that keeps them offline and away from the user's files: `PATH` of this
   * process, and `HOME`, `TUF_ROOT`, `XDG_CONFIG_HOME`, `XDG_CACHE_HOME` inside {@link SigstoreHarness.directory}.
   * Nothing else is passed (no proxies, no `SIGSTORE_*`, no `COSIGN_*`).
   */
  readonly toolEnv: NodeJS.ProcessEnv;
  /** Every request the services received, in order (service, method, path, content type, status); a live view. */
  readonly requests: readonly RequestRecord[];
  /**
   * An RS256-signed JWT the harness Fulcio accepts (the signature is never checked), valid ten minutes, audience
   * `sigstore`. The certificate's identity is `email` when given, else `subject`; its issuer is `issuer`.
   */
  readonly identityToken: (claims: IdentityTokenClaims) => string;
  /** Stops the services and removes {@link SigstoreHarness.directory}. Idempotent. */
  readonly close: () => Promise<void>;
}

/** Default OIDC issuer of the harness: a name under `.test`, which never resolves. */
export const DefaultOIDCIssuer = 'https://oidc.lading.test';
/** File name of the trusted root in the harness folder. */
export const TrustedRootFileName = 'trusted_root.json';
/** File name of the signing config in the harness folder. */
export const SigningConfigFileName = 'signing_config.json';

/**
 * Starts Fulcio, Rekor and TSA services built on `@sigstore/mock` (fresh keys each time), each on its own
 * 127.0.0.1 port, and writes `trusted_root.json` and `signing_config.json` to a new temporary folder.
 * One server per service: clients append fixed API paths to each base URL, so each service owns its URL's root.
 * Call {@link SigstoreHarness.close} when done (the servers otherwise keep the process alive).
 */
export async function startSigstoreHarness(options: SigstoreHarnessOptions = {}): Promise<SigstoreHarness> {
  const oidcIssuer = options.oidcIssuer ?? DefaultOIDCIssuer;
  const requests: RequestRecord[] = [];
  const services: LoopbackService[] = [];
  const directory = await mkdtemp(path.join(tmpdir(), 'lading-sigstore-'));
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= stop(services, directory));
  try {
    const { urls, material } = await startServices(services, requests);
    const oidcProvider = await startFakeOIDCProvider({ requests });
    services.push(oidcProvider);
    const validFrom = earliestNotBefore([material.fulcio.rootCertificate, material.tsa.rootCertificate]);
    const trustedRoot = buildTrustedRoot({ ...urls, ...material, validFrom });
    const signingConfig = buildSigningConfig({ ...urls, oidcIssuer, validFrom });
    const tokens = new TokenIssuer();
    return {
      ...urls,
      oidcIssuer,
      oidcProvider,
      trustedRoot,
      trustedRootPath: await writeJSON(directory, TrustedRootFileName, TrustedRoot.toJSON(trustedRoot)),
      signingConfig,
      signingConfigPath: await writeJSON(directory, SigningConfigFileName, SigningConfig.toJSON(signingConfig)),
      directory,
      toolEnv: await makeToolEnv(directory),
      requests,
      identityToken: (claims) => tokens.issue({ ...claims, issuer: claims.issuer ?? oidcIssuer }),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

interface ServiceURLs {
  fulcioURL: string;
  ctLogURL: string;
  rekorURL: string;
  tsaURL: string;
}

interface ServiceMaterial {
  fulcio: FulcioMaterial;
  rekor: RekorMaterial;
  tsa: TSAMaterial;
}

/** Starts the three services, appending each to `services` as soon as it listens (so a failure can close it). */
async function startServices(
  services: LoopbackService[],
  requests: RequestRecord[],
): Promise<{ urls: ServiceURLs; material: ServiceMaterial }> {
  const fulcio = await createFulcioService();
  const fulcioService = await startLoopbackService('fulcio', [fulcio.route], requests);
  services.push(fulcioService);
  // The log's checkpoints name its host, so the server starts first and gets its routes once the log exists.
  const rekorRoutes: Route[] = [];
  const rekorService = await startLoopbackService('rekor', rekorRoutes, requests);
  services.push(rekorService);
  const rekor = await createRekorService(rekorService.url);
  rekorRoutes.push(...rekor.routes);
  const tsa = await createTSAService();
  const tsaService = await startLoopbackService('tsa', [tsa.route], requests);
  services.push(tsaService);
  return {
    urls: {
      fulcioURL: fulcioService.url,
      ctLogURL: `${fulcioService.url}/ct`,
      rekorURL: rekorService.url,
      tsaURL: tsaService.url,
    },
    material: { fulcio: fulcio.material, rekor: rekor.material, tsa: tsa.material },
  };
}

async function stop(services: readonly LoopbackService[], directory: string): Promise<void> {
  await Promise.all(services.map((s) => s.close()));
  await rm(directory, { recursive: true, force: true });
}

/** The earliest `notBefore` of the given DER certificates (whole seconds, as certificates store them). */
function earliestNotBefore(certificates: readonly Buffer[]): Date {
  const times = certificates.map((der) => X509Certificate.parse(Buffer.from(der)).notBefore.getTime());
  return new Date(Math.min(...times));
}

async function writeJSON(directory: string, name: string, value: unknown): Promise<string> {
  const file = path.join(directory, name);
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

async function makeToolEnv(directory: string): Promise<NodeJS.ProcessEnv> {
  const dirs = { HOME: 'home', TUF_ROOT: 'tuf', XDG_CONFIG_HOME: 'config', XDG_CACHE_HOME: 'cache' };
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '' };
  for (const [name, sub] of Object.entries(dirs)) {
    const dir = path.join(directory, sub);
    await mkdir(dir, { recursive: true });
    env[name] = dir;
  }
  return env;
}
