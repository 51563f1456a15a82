/**
 * From a signed statement to what core attaches: the bundle as a {@link SignedReferrer} in cosign 3's referrer
 * format (docs/interop.md, "Sigstore bundle referrers").
 */
import { ErrorCodes, isLadingError, LadingError, type SignedReferrer, type SignRequest } from '@lading/core';
import { bundleToJSON, type Bundle, type SerializedBundle } from '@sigstore/bundle';
import type { BundleBuilder } from '@sigstore/sign';
import {
  AnnotationBundleContent,
  AnnotationBundlePredicateType,
  AnnotationCreated,
  BundleContentDSSE,
  MediaTypeSigstoreBundleV03,
  PayloadTypeInToto,
  PredicateTypeCosignSign,
} from './media-types.js';
import { buildStatement, serializeStatement } from './statement.js';

/** A clock; tests pass a fixed one. */
export type Clock = () => Date;

/**
 * The time as `org.opencontainers.image.created` wants it: RFC 3339 in UTC, whole seconds (as oras and cosign
 * write it; sub-second digits add nothing a reader can trust).
 */
export function formatCreated(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The referrer for a DSSE bundle: `artifactType` and layer media type {@link MediaTypeSigstoreBundleV03}, the
 * bundle JSON as content, and the annotations cosign 3 writes (content `dsse-envelope`, the predicate type, the
 * creation time).
 */
export function toSignedReferrer(bundle: SerializedBundle, predicateType: string, created: Date): SignedReferrer {
  return {
    artifactType: MediaTypeSigstoreBundleV03,
    layerMediaType: MediaTypeSigstoreBundleV03,
    content: new TextEncoder().encode(JSON.stringify(bundle)),
    annotations: {
      [AnnotationBundleContent]: BundleContentDSSE,
      [AnnotationBundlePredicateType]: predicateType,
      [AnnotationCreated]: formatCreated(created),
    },
  };
}

/** How {@link signStatement} finishes a bundle. */
export interface SignStatementOptions {
  /** Written as `verificationMaterial.publicKey.hint` (key-based bundles). */
  keyHint?: string;
  /** Creation time of the referrer. */
  clock: Clock;
  signal?: AbortSignal | undefined;
  /** The services the builder talks to, named (with their URL) in the error when one of them fails. */
  services?: { fulcioURL?: string; rekorURL?: string; tsaURL?: string };
}

/**
 * Builds the in-toto statement for `request` (see `buildStatement`), has `builder` sign it as a DSSE envelope
 * (`application/vnd.in-toto+json`) and witness it, and returns the referrer. The DSSE signature's `keyid` stays
 * empty (omitted in JSON, as cosign writes it): `cosign verify --key` skips signatures with any other keyid, so the
 * key hint goes only in the verification material. Errors of the builder become `LadingError`s
 * "sign <subject digest>: <reason>" (`ERR_LADING_AUTH` for identity token problems, `ERR_LADING_NETWORK` for
 * Fulcio, Rekor and TSA failures, naming the service and its URL from `services`, and the underlying cause). The signal is checked before and after signing: sigstore-js cannot abort a
 * request under way.
 */
export async function signStatement(
  builder: BundleBuilder,
  request: SignRequest,
  options: SignStatementOptions,
): Promise<SignedReferrer> {
  const predicateType = request.predicateType ?? PredicateTypeCosignSign;
  const statement = buildStatement(request.subject, predicateType, request.predicate);
  options.signal?.throwIfAborted();
  let bundle: Bundle;
  try {
    bundle = await builder.create({ data: Buffer.from(serializeStatement(statement)), type: PayloadTypeInToto });
  } catch (e) {
    throw signingError(request.subject.digest, e, options.services);
  }
  options.signal?.throwIfAborted();
  const json = bundleToJSON(bundle);
  if (options.keyHint !== undefined && json.verificationMaterial.publicKey) {
    json.verificationMaterial.publicKey.hint = options.keyHint;
  }
  // sigstore-js serialises "no timestamps" as an empty object; cosign omits the field. Same meaning, less noise.
  // (The serialised type claims the list is always there; protobuf JSON omits empty lists.)
  const stamps = json.verificationMaterial.timestampVerificationData?.rfc3161Timestamps as unknown[] | undefined;
  if (stamps === undefined || stamps.length === 0) {
    json.verificationMaterial.timestampVerificationData = undefined;
  }
  return toSignedReferrer(json, predicateType, options.clock());
}

function signingError(digest: string, cause: unknown, services: SignStatementOptions['services'] = {}): LadingError {
  if (isLadingError(cause)) return cause;
  // sigstore-js wraps what the identity provider threw (our own LadingError, which says more) in its InternalError.
  if (cause instanceof Error && isLadingError(cause.cause)) return cause.cause;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : '';
  if (code === 'IDENTITY_TOKEN_PARSE_ERROR') {
    // sigstore-js quotes the whole token in this message: neither it nor the error carrying it may travel on.
    return new LadingError(ErrorCodes.auth, `sign ${digest}: the identity token is not a JWT with a subject claim`, {
      service: 'sigstore',
    });
  }
  const reason = cause instanceof Error ? cause.message : String(cause);
  const errorCode = code.startsWith('IDENTITY_TOKEN') ? ErrorCodes.auth : ErrorCodes.network;
  // sigstore-js's codes say which service failed (CA_…, TLOG_…, TSA_…); its message does not, nor does it say why.
  const service = code.startsWith('CA_')
    ? ['Fulcio', services.fulcioURL]
    : code.startsWith('TLOG_')
      ? ['Rekor', services.rekorURL]
      : code.startsWith('TSA_')
        ? ['timestamp authority', services.tsaURL]
        : undefined;
  const which = service === undefined ? '' : `${service[0]}${service[1] === undefined ? '' : ` ${service[1]}`}: `;
  const why = innermost(cause);
  const because = why === undefined || why === reason ? '' : `: ${why}`;
  return new LadingError(errorCode, `sign ${digest}: ${which}${reason}${because}`, { cause, service: 'sigstore' });
}

/** The message of the deepest cause under `error` (the connection refused, the HTTP status), if any. */
function innermost(error: unknown): string | undefined {
  let message: string | undefined;
  let current: unknown = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    message = current.message;
    current = current.cause;
  }
  return message;
}
