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
 * And for fidelity, the certificate identity is chosen as Fulcio does (the mock would always use `sub`):
 * - a token with an `email` claim gets the email (email issuers);
 * - a token with a `job_workflow_ref` claim (GitHub Actions) gets `https://github.com/<job_workflow_ref>`, the URI
 *   of the workflow that ran, which Fulcio also writes as the build signer URI;
 * - any other token gets its `sub`.
 * The mock always writes the identity as a URI SAN; cosign and sigstore-js match the expected identity against the
 * SAN values, so `--certificate-identity <email>` works.
 *
 * The Fulcio extensions (OIDs 1.3.6.1.4.1.57264.1.*) come from the token's GitHub Actions claims by the mapping
 * Fulcio uses for GitHub (the mock's, which follows it): `repository` → source repository URI
 * `https://github.com/<repository>` (and the deprecated `.5`), `ref` → source repository ref (and `.6`), `sha` →
 * source repository digest (and `.3`), `job_workflow_ref`/`job_workflow_sha` → build signer URI/digest,
 * `workflow_ref`/`workflow_sha` → build config URI/digest, `event_name` → build trigger (and `.2`), `workflow` →
 * `.4`, `runner_environment`, `repository_id`, `repository_owner` (owner URI), `repository_owner_id`,
 * `repository_visibility`, and `repository` + `run_id` + `run_attempt` → run invocation URI
 * `https://github.com/<repository>/actions/runs/<run_id>/attempts/<run_attempt>`; `iss` → issuer (`.1` and `.8`).
 * Proof of possession is not checked, and neither is the token's signature.
 */
export async function createFulcioService(): Promise<FulcioService> {
  const ctLog = await initializeCTLog(newKeyPair());
  const ca = await initializeCA(newKeyPair(), ctLog);
  const handler = fulcioHandler(ca, { subjectClaim: IdentityClaim }).fn;
  const route: Route = {
    method: 'POST',
    path: PathFulcioSigningCert,
    handle: (request) => createSigningCert(request, handler),
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

/**
 * A claim the harness adds to the token it hands the mock handler, holding the identity chosen as Fulcio would; the
 * handler takes the certificate identity from it. The mock maps no extension from it.
 */
const IdentityClaim = 'lading_harness_identity';

async function createSigningCert(request: ServiceRequest, handler: HandlerFn): Promise<ServiceResponse> {
  const body = parseJSON(request.body);
  if (!isObject(body)) return { status: 400, body: 'fulcio: request body is not a JSON object' };
  const token = body.credentials?.oidcIdentityToken ?? bearerToken(request.headers.authorization);
  if (token === undefined) return { status: 401, body: 'fulcio: no OIDC token in body or Authorization header' };
  const withIdentity = tokenWithIdentity(token);
  if (withIdentity === undefined) return { status: 400, body: 'fulcio: the OIDC token is not a JWT' };
  const result = await handler(JSON.stringify({ ...body, credentials: { oidcIdentityToken: withIdentity } }));
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

/**
 * The token with {@link IdentityClaim} set to the identity Fulcio would certify (`email`, else the GitHub workflow
 * URI, else `sub`); its signature part is kept as is (nobody checks it). Undefined when it cannot be decoded.
 */
function tokenWithIdentity(token: string): string | undefined {
  let claims: Record<string, unknown>;
  try {
    claims = decodeClaims(token);
  } catch {
    return undefined;
  }
  const identity =
    typeof claims.email === 'string'
      ? claims.email
      : typeof claims.job_workflow_ref === 'string'
        ? `https://github.com/${claims.job_workflow_ref}`
        : claims.sub;
  const [header = '', , signature = ''] = token.split('.');
  const payload = Buffer.from(JSON.stringify({ ...claims, [IdentityClaim]: identity })).toString('base64url');
  return `${header}.${payload}.${signature}`;
}
