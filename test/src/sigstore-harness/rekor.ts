import { createHash } from 'node:crypto';
import { initializeTLog, rekorHandler, type HandlerFn } from '@sigstore/mock';
import { MediaTypeJSON, PathRekorEntries } from './media-types.js';
import { newKeyPair } from './keys.js';
import { bodyBytes, type Route, type ServiceRequest, type ServiceResponse } from './http.js';

/** The key of the harness's Rekor, for the trusted root. */
export interface RekorMaterial {
  /** DER SubjectPublicKeyInfo of the log's P-256 key (signs SETs and checkpoints). */
  publicKey: Buffer;
  /** The log ID: SHA-256 of {@link RekorMaterial.publicKey}. */
  logID: Buffer;
}

/** A Rekor service: its routes and its trust material. */
export interface RekorService {
  routes: Route[];
  material: RekorMaterial;
}

/**
 * Creates the mock transparency log (fresh P-256 key) and the Rekor v1 routes in front of it: `POST` to create an
 * entry, and `GET <entries>/<uuid>` to read back an entry created earlier.
 *
 * `url` must be the service's own URL: the log's checkpoints name its host, as Rekor's do.
 *
 * Fixes over the bare `@sigstore/mock` handler:
 * - `dsse` v0.0.1 entries are canonicalised the way Rekor does before logging (envelope and payload hashes plus
 *   signature/verifier pairs, no proposed content). The mock logged the proposed entry as is; sigstore-js then
 *   refuses the bundle, as the logged body does not describe the envelope (cosign 3.1.1 does not compare the body);
 * - the create answer carries `ETag` (the entry UUID) and `Location` (its URL), as Rekor's does. sigstore-go picks
 *   the entry out of the answer by `ETag`; without it cosign 3.1.1 panics (nil pointer in
 *   `tle.GenerateTransparencyLogEntry`).
 * Entries are logged without checking their signatures. Every entry is the only one of its own one-leaf tree.
 */
export async function createRekorService(url: string): Promise<RekorService> {
  const keyPair = newKeyPair();
  const tlog = await initializeTLog(url, keyPair);
  const handler = rekorHandler(tlog).fn;
  const entries = new Map<string, string>();
  const routes: Route[] = [
    { method: 'POST', path: PathRekorEntries, handle: (request) => createEntry(request, handler, entries) },
    { method: 'GET', path: `${PathRekorEntries}/`, handle: (request) => Promise.resolve(getEntry(request, entries)) },
  ];
  const publicKey = tlog.publicKey;
  return { routes, material: { publicKey, logID: createHash('sha256').update(publicKey).digest() } };
}

async function createEntry(
  request: ServiceRequest,
  handler: HandlerFn,
  entries: Map<string, string>,
): Promise<ServiceResponse> {
  let proposed: unknown;
  try {
    proposed = JSON.parse(request.body.toString('utf8'));
  } catch {
    return { status: 400, body: 'rekor: request body is not JSON' };
  }
  const result = await handler(JSON.stringify(canonicalEntry(proposed)));
  const body = bodyBytes(result.response).toString('utf8');
  if (result.statusCode !== 201) return { status: result.statusCode, body };
  const uuid = Object.keys(JSON.parse(body) as Record<string, unknown>)[0] ?? '';
  entries.set(uuid, body);
  const headers = { 'Content-Type': MediaTypeJSON, ETag: uuid, Location: `${PathRekorEntries}/${uuid}` };
  return { status: 201, body, headers };
}

function getEntry(request: ServiceRequest, entries: Map<string, string>): ServiceResponse {
  const uuid = request.path.slice(PathRekorEntries.length + 1);
  const body = entries.get(uuid);
  if (body === undefined) return { status: 404, body: `rekor: no entry ${uuid}` };
  return { status: 200, body, headers: { 'Content-Type': MediaTypeJSON } };
}

interface ProposedDSSE {
  kind: 'dsse';
  apiVersion: '0.0.1';
  spec: { proposedContent: { envelope: string; verifiers: string[] } };
}

interface DSSEEnvelope {
  payload: string;
  signatures: { sig: string }[];
}

/**
 * The entry Rekor would log for `proposed`: a proposed `dsse` v0.0.1 entry becomes its canonical form (see Rekor's
 * `pkg/types/dsse/v0.0.1`), anything else is logged as proposed.
 */
export function canonicalEntry(proposed: unknown): unknown {
  if (!isProposedDSSE(proposed)) return proposed;
  const { envelope, verifiers } = proposed.spec.proposedContent;
  const parsed = JSON.parse(envelope) as DSSEEnvelope;
  const signatures = parsed.signatures
    .map((s, i) => ({ signature: s.sig, verifier: verifiers[i] ?? verifiers[0] ?? '' }))
    .sort((a, b) => (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0));
  return {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256Hex(Buffer.from(envelope, 'utf8')) },
      payloadHash: { algorithm: 'sha256', value: sha256Hex(Buffer.from(parsed.payload, 'base64')) },
      signatures,
    },
  };
}

function isProposedDSSE(value: unknown): value is ProposedDSSE {
  const v = value as {
    kind?: unknown;
    apiVersion?: unknown;
    spec?: { proposedContent?: { envelope?: unknown } };
  } | null;
  return v?.kind === 'dsse' && v.apiVersion === '0.0.1' && typeof v.spec?.proposedContent?.envelope === 'string';
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
