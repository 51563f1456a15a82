// Optional HTTP Basic authentication of the registry listener (the storage listener never asks for credentials).

import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

import { Header } from './constants.js';
import { RegistryError } from './errors.js';
import { headerValue } from './http.js';

/** Credentials every registry request must carry when set. */
export interface BasicCredentials {
  username: string;
  password: string;
  /** `realm` of the `WWW-Authenticate` challenge. Default `fake-registry`. */
  realm?: string;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** True when `Authorization: Basic base64(user:pass)` names exactly these credentials. */
function isAuthorized(headers: IncomingHttpHeaders, credentials: BasicCredentials): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(headerValue(headers, Header.authorization) ?? '');
  if (!match?.[1]) return false;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  return sameText(decoded, `${credentials.username}:${credentials.password}`);
}

/**
 * Throws 401 UNAUTHORIZED with `WWW-Authenticate: Basic realm="..."` when credentials are configured and the
 * request does not carry them.
 */
export function requireBasicAuth(headers: IncomingHttpHeaders, credentials: BasicCredentials | undefined): void {
  if (!credentials || isAuthorized(headers, credentials)) return;
  const realm = credentials.realm ?? 'fake-registry';
  throw new RegistryError(401, 'UNAUTHORIZED', 'authentication required', {
    headers: { [Header.authenticate]: `Basic realm="${realm}"` },
  });
}
