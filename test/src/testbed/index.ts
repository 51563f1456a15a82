import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inject } from 'vitest';
import type { Credentials, TestBed } from './types.js';
import type { TokenRequestRecord } from './token-server.js';

// The test bed as tests see it: the description the global setup provided, plus helpers to use it.
// Servers themselves live in vitest's main process; workers reach them over loopback HTTP only.

export type {
  AccessRule,
  Credentials,
  HtpasswdRegistryInfo,
  RegistryAuth,
  RegistryInfo,
  TestBed,
  TLSRegistryInfo,
  TokenRegistryInfo,
  TokenServerInfo,
  TokenUserInfo,
} from './types.js';
export type { Access, OversizedReplyFault, TokenClaims, TokenGrant, TokenRequestRecord } from './token-server.js';
export { startOversizedServer, type OversizedReplyRecord, type OversizedServer } from './oversized.js';
export type { PeerToolVersion } from './peers.js';
export type { TokenSigner } from './pki.js';
export { decodeJWT, formatScope, parseScope, signJWT } from './token-server.js';
export { createTokenSigner } from './pki.js';
export { isolatedEnv, makeToolHome, peerToolVersion } from './peers.js';
export { freePort, waitFor } from './net.js';
export { peerTools, repoRoot, run, toolPath, type PeerTool, type RunOptions, type RunResult } from './tools.js';

/** The test bed the global setup started (`inject('testbed')`). Only callable inside the integration project. */
export function testbed(): TestBed {
  return inject('testbed');
}

/** `Basic <base64(username:password)>`, an `Authorization` header value. */
export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

/**
 * Asks the bed's token server for a token the Docker way (`GET realm?service=&scope=...`), with Basic
 * `credentials` or anonymously when they are omitted. Returns the JWT; throws with the status and body on non-200.
 */
export async function fetchToken(bed: TestBed, scopes: readonly string[], credentials?: Credentials): Promise<string> {
  const url = new URL(bed.tokenServer.realm);
  url.searchParams.set('service', bed.tokenServer.service);
  for (const s of scopes) url.searchParams.append('scope', s);
  const headers: Record<string, string> = credentials ? { Authorization: basicAuthorization(credentials) } : {};
  const res = await fetch(url, { headers });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`token server: ${res.status} ${body}`);
  return (JSON.parse(body) as { token: string }).token;
}

/** Every request the token server has recorded so far (whole run, all workers), oldest first. */
export async function tokenRequests(bed: TestBed): Promise<TokenRequestRecord[]> {
  const res = await fetch(bed.tokenServer.requestsURL);
  if (res.status !== 200) throw new Error(`token server requests: ${res.status}`);
  return (await res.json()) as TokenRequestRecord[];
}

/**
 * Writes `$DOCKER_CONFIG/config.json` of a tool environment (see `makeToolHome`) with an `auths` entry per
 * registry host, replacing any earlier file. crane (go-containerregistry) and docker read it.
 */
export async function writeDockerConfig(
  env: NodeJS.ProcessEnv,
  auths: Readonly<Record<string, Credentials>>,
): Promise<string> {
  const dir = env.DOCKER_CONFIG;
  if (dir === undefined) throw new Error('writeDockerConfig: env has no DOCKER_CONFIG');
  const entries = Object.entries(auths).map(([host, c]): [string, { auth: string }] => [
    host,
    { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') },
  ]);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'config.json');
  await writeFile(file, JSON.stringify({ auths: Object.fromEntries(entries) }), { mode: 0o600 });
  return file;
}
