import { ASN1Obj } from '@sigstore/core';
import { initializeTSA, tsaHandler } from '@sigstore/mock';
import { WholeSecondClock } from './clock.js';
import { newKeyPair } from './keys.js';
import { bodyBytes, type Route, type ServiceRequest, type ServiceResponse } from './http.js';
import { MediaTypeTimestampQuery, MediaTypeTimestampReply, PathTimestamp } from './media-types.js';

/** The certificates of the harness's timestamp authority, for the trusted root. */
export interface TSAMaterial {
  /** DER of the signing certificate (`CN=tsa signing,O=sigstore.mock`, EKU timeStamping). */
  signingCertificate: Buffer;
  /** DER of the self-signed root (`CN=tsa,O=sigstore.mock`) that issued it. */
  rootCertificate: Buffer;
}

/** A timestamp authority service: its route and its trust material. */
export interface TSAService {
  route: Route;
  material: TSAMaterial;
}

/** Policy OID the harness TSA puts in timestamps when the request names none (Sigstore's TSA policy). */
export const DefaultTSAPolicyOID = '1.3.6.1.4.1.57264.2';
/** Nonce the harness TSA puts in timestamps when the request has none (the mock always writes one). */
export const DefaultTSANonce = 0;

/**
 * Creates the mock TSA (fresh P-256 key) and a `POST /api/v1/timestamp` route in front of it, answering 201 with
 * an RFC 3161 `TimeStampResp`.
 *
 * Fixes over the bare `@sigstore/mock` handler:
 * - binary RFC 3161 requests (`Content-Type: application/timestamp-query`, what cosign sends) are parsed and
 *   answered; the mock only read sigstore-js's JSON request form;
 * - timestamps carry whole seconds (see {@link WholeSecondClock}), else about one in ten failed to parse in
 *   sigstore-js.
 * A request nonce above 2^53 - 1 is refused with 400: the mock encodes nonces from JS numbers.
 */
export async function createTSAService(): Promise<TSAService> {
  const clock = new WholeSecondClock();
  const tsa = await initializeTSA(newKeyPair(), clock.date);
  const json = tsaHandler(tsa).fn;
  const handle = async (request: ServiceRequest): Promise<ServiceResponse> => {
    clock.tick();
    if (!isTimestampQuery(request)) {
      const result = await json(request.body.toString('utf8'));
      return { status: result.statusCode, body: bodyBytes(result.response), headers: contentType(result.contentType) };
    }
    const query = parseTimestampQuery(request.body);
    if (typeof query === 'string') return { status: 400, body: `tsa: ${query}` };
    const reply = await tsa.timestamp(query);
    return { status: 201, body: bodyBytes(reply), headers: { 'Content-Type': MediaTypeTimestampReply } };
  };
  const material: TSAMaterial = {
    signingCertificate: bodyBytes(tsa.intCertificate),
    rootCertificate: bodyBytes(tsa.rootCertificate),
  };
  return { route: { method: 'POST', path: PathTimestamp, handle }, material };
}

function isTimestampQuery(request: ServiceRequest): boolean {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() === MediaTypeTimestampQuery;
}

function contentType(value: string | undefined): Record<string, string> {
  return { 'Content-Type': value ?? 'text/plain' };
}

/** The request the mock TSA takes. */
export interface TimestampQuery {
  artifactHash: Buffer;
  hashAlgorithmOID: string;
  nonce: number;
  policyOID: string;
  certReq: boolean;
}

/**
 * Parses a DER RFC 3161 `TimeStampReq` (RFC 3161 section 2.4.1):
 * `SEQUENCE { version, messageImprint SEQUENCE { AlgorithmIdentifier, OCTET STRING }, reqPolicy OID OPTIONAL,
 * nonce INTEGER OPTIONAL, certReq BOOLEAN DEFAULT FALSE, extensions [0] OPTIONAL }`.
 * Returns the query, or a string saying why the request is refused.
 */
export function parseTimestampQuery(der: Buffer): TimestampQuery | string {
  let root: ASN1Obj;
  try {
    root = ASN1Obj.parseBuffer(der as Buffer<ArrayBuffer>);
  } catch (e) {
    return `not DER: ${e instanceof Error ? e.message : String(e)}`;
  }
  const [, imprint, ...optional] = root.subs;
  const algorithm = imprint?.subs[0]?.subs[0];
  const hashed = imprint?.subs[1];
  if (!algorithm?.tag.isOID() || !hashed?.tag.isOctetString()) return 'messageImprint is malformed';
  const query: TimestampQuery = {
    artifactHash: Buffer.from(hashed.value),
    hashAlgorithmOID: algorithm.toOID(),
    nonce: DefaultTSANonce,
    policyOID: DefaultTSAPolicyOID,
    certReq: false,
  };
  for (const field of optional) {
    if (field.tag.isOID()) query.policyOID = field.toOID();
    else if (field.tag.isBoolean()) query.certReq = field.toBoolean();
    else if (field.tag.isInteger()) {
      const nonce = field.toInteger();
      if (nonce > BigInt(Number.MAX_SAFE_INTEGER) || nonce < 0n) return 'nonce does not fit the mock TSA';
      query.nonce = Number(nonce);
    }
  }
  return query;
}
