import { fulcioHandler, initializeCA, initializeCTLog, type HandlerFn } from '@sigstore/mock';
import { PathFulcioSigningCert } from './media-types.js';
import { bodyBytes, type Route, type ServiceRequest, type ServiceResponse } from './http.js';
import { newKeyPair } from './keys.js';
import { decodeClaims } from './token.js';

/** The keys and certificate of the harness's Fulcio, for the trusted root. */
export interface FulcioMaterial {
  /** DER of the self-signed CA certificate (`CN=sigstore,O=sigstore.mock`) that issues every signing certificate. */
  rootCertificate: Buffer;
  /** DER SubjectPublicKeyInfo of the CT log whose SCTs are embedded in the certificates. */
  ctLogPublicKey: Buffer;
  /** The CT log's ID: SHA-256 of {@link FulcioMaterial.ctLogPublicKey}. */
  ctLogID: Buffer;
}

/** A Fulcio service: its route and its trust material. */
export interface FulcioService {
  route: Route;
  material: FulcioMaterial;
}

/**
 * Creates the mock CA and CT log (fresh P-256 keys) and a Fulcio v2 `signingCert` route in front of them.
 *
 * Fixes over the bare `@sigstore/mock` handler that cosign 3.1.1 (sigstore-go) needs:
 * - the OIDC token is taken from `Authorization: Bearer` when the body has no `credentials.oidcIdentityToken`
 *   (sigstore-go sends it only in the header; the mock answered 400, reading `oidcIdentityToken` of undefined);
 * - success is 200, not 201 (sigstore-go: `Fulcio returned 201`, signing fails).
 * And one for fidelity: a token with an `email` claim gets the email as the certificate identity, as Fulcio does for
 * email issuers (the mock would use `sub`). The mock always writes the identity as a URI SAN; cosign and sigstore-js
 * match the expected identity against the SAN values, so `--certificate-identity <email>` works.
 * Proof of possession is not checked, and neither is the token's signature.
 */
export async function createFulcioService(): Promise<FulcioService> {
  const ctLog = await initializeCTLog(newKeyPair());
  const ca = await initializeCA(newKeyPair(), ctLog);
  const bySubject = fulcioHandler(ca, { subjectClaim: 'sub' }).fn;
  const byEmail = fulcioHandler(ca, { subjectClaim: 'email' }).fn;
  const route: Route = {
    method: 'POST',
    path: PathFulcioSigningCert,
    handle: (request) => createSigningCert(request, bySubject, byEmail),
  };
  const material: FulcioMaterial = {
    rootCertificate: bodyBytes(ca.rootCertificate),
    ctLogPublicKey: ctLog.publicKey,
    ctLogID: bodyBytes(ctLog.logID),
  };
  return { route, material };
}

interface SigningCertRequest {
  credentials?: { oidcIdentityToken?: string };
  publicKeyRequest?: unknown;
  certificateSigningRequest?: unknown;
}

async function createSigningCert(
  request: ServiceRequest,
  bySubject: HandlerFn,
  byEmail: HandlerFn,
): Promise<ServiceResponse> {
  const body = parseJSON(request.body);
  if (!isObject(body)) return { status: 400, body: 'fulcio: request body is not a JSON object' };
  const token = body.credentials?.oidcIdentityToken ?? bearerToken(request.headers.authorization);
  if (token === undefined) return { status: 401, body: 'fulcio: no OIDC token in body or Authorization header' };
  const hasEmail = tokenHasEmail(token);
  if (hasEmail === undefined) return { status: 400, body: 'fulcio: the OIDC token is not a JWT' };
  const handler = hasEmail ? byEmail : bySubject;
  const result = await handler(JSON.stringify({ ...body, credentials: { oidcIdentityToken: token } }));
  const status = result.statusCode === 201 ? 200 : result.statusCode;
  return { status, body: bodyBytes(result.response), headers: { 'Content-Type': result.contentType ?? 'text/plain' } };
}

function parseJSON(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is SigningCertRequest {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

/** Whether the token carries an `email` claim; undefined when it cannot be decoded. */
function tokenHasEmail(token: string): boolean | undefined {
  try {
    return typeof decodeClaims(token).email === 'string';
  } catch {
    return undefined;
  }
}
