import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';

/** Who the fake OIDC token says the signer is. */
export interface IdentityClaims {
  /** `iss` claim; Fulcio copies it into the certificate's issuer extensions (OIDs 1.3.6.1.4.1.57264.1.1 and .8). */
  issuer: string;
  /** `sub` claim; the certificate's identity (URI SAN) when no `email` is given. */
  subject: string;
  /** `email` claim, sent with `email_verified: true`; when present it is the certificate's identity. */
  email?: string;
  /** `aud` claim. Default `sigstore`, what Fulcio expects. */
  audience?: string;
  /** Seconds until `exp`. Default 600. */
  lifetimeSeconds?: number;
}

/** Default `aud` of harness tokens: the audience the public Fulcio requires. */
export const DefaultTokenAudience = 'sigstore';
/** Default lifetime of harness tokens: ten minutes, the life of a Fulcio certificate. */
export const DefaultTokenLifetimeSeconds = 600;

/**
 * Issues RS256-signed JWTs with a throwaway RSA key made per instance. Nobody checks the signature (the mock Fulcio
 * only decodes the token), but the algorithm matters: cosign takes `--identity-token` as a token only when go-jose
 * parses it as an RS256 JWS, and otherwise opens it as a file path (`file name too long`).
 */
export class TokenIssuer {
  readonly #key: KeyObject = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  /** A compact JWS carrying {@link IdentityClaims}, valid from now for `lifetimeSeconds`. */
  issue(claims: IdentityClaims): string {
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      iss: claims.issuer,
      sub: claims.subject,
      aud: claims.audience ?? DefaultTokenAudience,
      iat: now,
      nbf: now,
      exp: now + (claims.lifetimeSeconds ?? DefaultTokenLifetimeSeconds),
      jti: randomUUID(),
    };
    if (claims.email !== undefined) {
      payload.email = claims.email;
      payload.email_verified = true;
    }
    const signingInput = `${base64url({ alg: 'RS256', typ: 'JWT' })}.${base64url(payload)}`;
    const signature = sign('sha256', Buffer.from(signingInput), this.#key);
    return `${signingInput}.${signature.toString('base64url')}`;
  }
}

/** The identity a certificate issued for `token` carries: its `email` claim, else its `sub`. */
export function identityOfToken(token: string): string {
  const claims = decodeClaims(token);
  if (typeof claims.email === 'string') return claims.email;
  if (typeof claims.sub === 'string') return claims.sub;
  throw new Error('identity token: no sub or email claim');
}

/** The claims of a compact JWS, not verified. Throws when the token is not three dot-separated base64url parts. */
export function decodeClaims(token: string): Record<string, unknown> {
  const parts = token.split('.');
  const payload = parts[1];
  if (parts.length !== 3 || payload === undefined) throw new Error('identity token: not a compact JWS');
  const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  if (typeof claims !== 'object' || claims === null) throw new Error('identity token: claims are not an object');
  return claims as Record<string, unknown>;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
