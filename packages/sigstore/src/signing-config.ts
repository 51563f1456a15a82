/**
 * cosign signing configs (`application/vnd.dev.sigstore.signingconfig.v0.2+json`, `cosign --signing-config`):
 * which Fulcio, Rekor and TSA a keyless signer talks to.
 * https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_trustroot.proto
 */
import { readFile } from 'node:fs/promises';
import { ErrorCodes, LadingError } from '@lading/core';
import { SigningConfig, type Service } from '@sigstore/protobuf-specs';
import { MediaTypeSigningConfig } from './media-types.js';

/** The services a keyless signer uses; a missing log or TSA means none. */
export interface SigstoreServices {
  fulcioURL: string;
  rekorURL?: string;
  /** Rekor major API version (1 or 2). */
  rekorAPIVersion?: number;
  /** Full URL of the timestamp endpoint, as signing configs give it. */
  tsaURL?: string;
}

/** Highest major API versions sigstore-js 5 speaks: Fulcio v1 (`/api/v2/signingCert`), Rekor v2, TSA v1. */
const maxAPIVersion = { ca: 1, tlog: 2, tsa: 1 } as const;

/**
 * Reads a signing config from a JSON file (or takes an already parsed one) and checks its media type.
 * Throws `ERR_LADING_USAGE` "load signing config <path>: <reason>".
 */
export async function loadSigningConfig(source: string | SigningConfig): Promise<SigningConfig> {
  if (typeof source !== 'string') return checkMediaType(source, 'object');
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (e) {
    throw usage(source, (e as Error).message, e);
  }
  return parseSigningConfig(text, source);
}

/** Parses signing config JSON text; `where` names it in errors. Throws `ERR_LADING_USAGE`. */
export function parseSigningConfig(text: string, where = 'JSON'): SigningConfig {
  let config: SigningConfig;
  try {
    config = SigningConfig.fromJSON(JSON.parse(text));
  } catch (e) {
    throw usage(where, `not a signing config: ${(e as Error).message}`, e);
  }
  return checkMediaType(config, where);
}

/**
 * Picks one service of each kind from `config`, as sigstore-go and sigstore-js do: among the services whose major
 * API version this client speaks and whose validity window contains `now`, the one that started most recently.
 * No Rekor or TSA service means none is used. Throws `ERR_LADING_USAGE` when there is no usable Fulcio.
 */
export function selectServices(config: SigningConfig, now: Date): SigstoreServices {
  const ca = newest(config.caUrls, maxAPIVersion.ca, now);
  if (ca === undefined) throw usage('object', 'no usable Fulcio (caUrls) service');
  const services: SigstoreServices = { fulcioURL: ca.url };
  const tlog = selectRekor(config, now);
  if (tlog !== undefined) {
    services.rekorURL = tlog.url;
    services.rekorAPIVersion = tlog.majorApiVersion;
  }
  const tsa = newest(config.tsaUrls, maxAPIVersion.tsa, now);
  if (tsa !== undefined) services.tsaURL = tsa.url;
  return services;
}

/**
 * The Rekor `config` names for a signature logged without Fulcio (a key signature with a log entry), chosen as
 * {@link selectServices} does; undefined when it names none usable. Fulcio is not required.
 */
export function selectRekor(config: SigningConfig, now: Date): { url: string; majorApiVersion: number } | undefined {
  const tlog = newest(config.rekorTlogUrls, maxAPIVersion.tlog, now);
  return tlog === undefined ? undefined : { url: tlog.url, majorApiVersion: tlog.majorApiVersion };
}

function newest(services: readonly Service[], maxVersion: number, now: Date): Service | undefined {
  const usable = services.filter((s) => s.majorApiVersion >= 1 && s.majorApiVersion <= maxVersion && live(s, now));
  return usable.sort((a, b) => start(b) - start(a))[0];
}

function live(service: Service, now: Date): boolean {
  const { start: from, end } = service.validFor ?? {};
  return (from === undefined || from <= now) && (end === undefined || end > now);
}

function start(service: Service): number {
  return service.validFor?.start?.getTime() ?? 0;
}

function checkMediaType(config: SigningConfig, where: string): SigningConfig {
  if (config.mediaType !== MediaTypeSigningConfig) {
    throw usage(where, `media type ${JSON.stringify(config.mediaType)} is not ${MediaTypeSigningConfig}`);
  }
  return config;
}

function usage(where: string, reason: string, cause?: unknown): LadingError {
  return new LadingError(
    ErrorCodes.usage,
    `load signing config ${where}: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}
