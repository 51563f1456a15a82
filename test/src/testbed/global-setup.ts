import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startCraneRegistry } from './crane-registry.js';
import { type Credentials, type RunningDistribution, startDistribution } from './distribution.js';
import { checkPeerTools, type PeerToolVersion } from './peers.js';
import { createPKI, type TestPKI } from './pki.js';
import { type AccessRule, startTokenServer, type TokenServer, type TokenUser } from './token-server.js';
import type { RegistryInfo, TestBed, TokenServerInfo } from './types.js';

// The integration project's global setup: one test bed for the whole run, started here in vitest's main process
// and described to test workers by `project.provide('testbed', ...)`. Everything listens on 127.0.0.1.

const SERVICE = 'lading-testbed-registry';
const ISSUER = 'lading-testbed-token-server';
const HTPASSWD_REALM = 'lading-testbed';

/** Stops and removals still to do, in the order they were registered; {@link teardown} runs them in reverse. */
const cleanups: (() => Promise<void>)[] = [];

/**
 * Checks the peer tools (a missing one fails the run, naming its install command), then generates the PKI and
 * starts the token server, four distributions (anonymous, htpasswd, token, TLS) and crane's registry, in
 * parallel where they do not depend on each other, and provides the {@link TestBed} as `testbed`.
 * On any failure everything already started is stopped before the error propagates.
 * Set `LADING_KEEP_TESTBED=1` to keep the temporary folder (logs, storage) after the run.
 */
export async function setup(project: TestProject): Promise<void> {
  try {
    project.provide('testbed', await startTestBed());
  } catch (e) {
    await teardown();
    throw e;
  }
}

/** Stops every server of the bed (SIGTERM, then SIGKILL) and removes its temporary folder. Idempotent. */
export async function teardown(): Promise<void> {
  const errors: unknown[] = [];
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()?.();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'test bed: teardown failed');
}

async function startTestBed(): Promise<TestBed> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lading-testbed-'));
  cleanups.push(() =>
    process.env.LADING_KEEP_TESTBED ? Promise.resolve() : rm(dir, { recursive: true, force: true }),
  );
  const home = path.join(dir, 'tool-home');
  await mkdir(home);
  const [peerTools, pki] = await Promise.all([checkPeerTools(home), createPKI(path.join(dir, 'pki'))]);
  const users = makeUsers();
  const tokenServer = await startTokenServer({
    service: SERVICE,
    issuer: ISSUER,
    signer: pki.tokenSigner,
    users,
    anonymous: ANONYMOUS_RULES,
  });
  cleanups.push(() => tokenServer.close());
  const registries = await startRegistries(dir, pki, tokenServer);
  return describe(dir, pki, tokenServer, users, registries, peerTools);
}

/** What each token-server user may do; see `TokenServerInfo.users`. */
function makeUsers(): Record<'alice' | 'bob' | 'admin', TokenUser> {
  const password = () => randomBytes(12).toString('base64url');
  return {
    alice: {
      password: password(),
      rules: [
        { name: 'alice/*', actions: ['pull', 'push', 'delete'] },
        { name: 'shared/*', actions: ['pull'] },
      ],
    },
    bob: { password: password(), rules: [{ name: '*', actions: ['pull'] }] },
    admin: {
      password: password(),
      rules: [
        { name: '*', actions: ['*'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
      ],
    },
  };
}

const ANONYMOUS_RULES: AccessRule[] = [{ name: 'public/*', actions: ['pull'] }];

interface Registries {
  anonymous: RunningDistribution;
  htpasswd: RunningDistribution & { credentials: Credentials };
  token: RunningDistribution;
  tls: RunningDistribution;
  crane: { host: string; url: string; logFile: string };
}

/** Starts all five registries at once; waits for every start to settle so none is left running unrecorded. */
async function startRegistries(dir: string, pki: TestPKI, tokens: TokenServer): Promise<Registries> {
  const tracked = <T extends { stop(): Promise<void> }>(p: Promise<T>): Promise<T> =>
    p.then((server) => {
      cleanups.push(() => server.stop());
      return server;
    });
  const credentials = { username: 'ci', password: randomBytes(12).toString('base64url') };
  const at = (name: string) => path.join(dir, name);
  const anonymous = tracked(
    startDistribution({ dir: at('anonymous'), name: 'anonymous', auth: { kind: 'anonymous' } }),
  );
  const basic = tracked(startDistribution({ dir: at('htpasswd'), name: 'htpasswd', auth: htpasswd(credentials) }));
  const token = tracked(startDistribution({ dir: at('token'), name: 'token', auth: tokenAuth(tokens, pki) }));
  const tls = tracked(startDistribution({ dir: at('tls'), name: 'tls', auth: { kind: 'anonymous' }, tls: tlsOf(pki) }));
  const crane = tracked(startCraneRegistry({ dir: at('crane') }));
  const settled = await Promise.allSettled([anonymous, basic, token, tls, crane]);
  const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
  if (failed.length > 0) throw new AggregateError(failed, failed.map((e) => e.message).join('\n'));
  return {
    anonymous: await anonymous,
    htpasswd: Object.assign(await basic, { credentials }),
    token: await token,
    tls: await tls,
    crane: await crane,
  };
}

function htpasswd(user: Credentials) {
  return { kind: 'htpasswd' as const, users: [user], realm: HTPASSWD_REALM };
}

function tokenAuth(tokens: TokenServer, pki: TestPKI) {
  const rootCertBundle = pki.tokenSigner.certFile;
  return { kind: 'token' as const, realm: tokens.realm, service: SERVICE, issuer: ISSUER, rootCertBundle };
}

function tlsOf(pki: TestPKI) {
  return { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caPem: pki.ca.certPem };
}

function describe(
  dir: string,
  pki: TestPKI,
  tokens: TokenServer,
  users: Record<'alice' | 'bob' | 'admin', TokenUser>,
  r: Registries,
  peerTools: PeerToolVersion[],
): TestBed {
  const info = (s: { host: string; url: string; logFile: string }, server: RegistryInfo['server']) => ({
    server,
    host: s.host,
    url: s.url,
    plainHTTP: s.url.startsWith('http:'),
    referrersAPI: false,
    logFile: s.logFile,
  });
  const distribution = (s: RunningDistribution) => info(s, 'distribution');
  return {
    dir,
    ca: { certFile: pki.ca.certFile, pem: pki.ca.certPem },
    tokenServer: tokenServerInfo(tokens, users),
    registries: {
      anonymous: { ...distribution(r.anonymous), auth: 'anonymous' },
      htpasswd: {
        ...distribution(r.htpasswd),
        auth: 'htpasswd',
        realm: HTPASSWD_REALM,
        credentials: r.htpasswd.credentials,
      },
      token: { ...distribution(r.token), auth: 'token', realm: tokens.realm, service: SERVICE, issuer: ISSUER },
      tls: { ...distribution(r.tls), auth: 'anonymous', caFile: pki.ca.certFile },
      crane: { ...info(r.crane, 'crane'), auth: 'anonymous' },
    },
    peerTools,
  };
}

function tokenServerInfo(tokens: TokenServer, users: Record<'alice' | 'bob' | 'admin', TokenUser>): TokenServerInfo {
  const user = (username: 'alice' | 'bob' | 'admin') => ({
    username,
    password: users[username].password,
    rules: [...users[username].rules],
  });
  return {
    url: tokens.url,
    realm: tokens.realm,
    requestsURL: tokens.requestsURL,
    service: SERVICE,
    issuer: ISSUER,
    users: { alice: user('alice'), bob: user('bob'), admin: user('admin') },
    anonymous: ANONYMOUS_RULES,
  };
}
