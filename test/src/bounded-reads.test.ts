// Every reply lading reads from a service it does not control is read under a bound, while reading: the token
// server, CI token endpoints, OpenID providers and TUF mirrors. Each test serves a reply far larger than the bound
// from a real loopback server that streams with backpressure, and checks both sides: the client refuses it as too
// large (naming the limit and the URL, never a credential), and the server saw it stop early (the connection closed
// with most of the reply unsent), which a client that buffers the whole reply before checking it cannot do.

import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';

import type { ErrorJSON } from '@lading/cli';
import { ErrorCodes, isLadingError, type LadingError } from '@lading/core';
import { MaxTokenReplyBytes } from '@lading/core/internal';
import { ambientIdentityToken, browserIdentityToken, fetchTrustedRoot } from '@lading/sigstore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { json, ladingIn } from './cli-runner.js';
import { startSigstoreHarness } from './sigstore-harness/index.js';
import { startTUFRepository } from './sigstore-harness/tuf.js';
import {
  makeToolHome,
  startOversizedServer,
  testbed,
  tokenRequests,
  type OversizedReplyRecord,
  type OversizedServer,
} from './testbed/index.js';

/** The 1 MiB bound on identity provider and CI token endpoint replies (MaxServiceReplyBytes of @lading/sigstore). */
const MaxServiceReplyBytes = 1024 * 1024;

/** Size of every oversized reply: 64 times the 1 MiB bounds, so reading it whole is unmistakable. */
const ReplyBytes = 64 * 1024 * 1024;

/**
 * The server's view of a reply a bounded client refused: the client hung up with most of it unsent. What was sent
 * is the bound plus what socket buffers held (a few MiB on loopback), far below the whole reply.
 */
function expectStoppedEarly(record: OversizedReplyRecord | undefined): void {
  expect(record, 'the oversized reply was requested').toBeDefined();
  expect(record?.complete).toBe(false);
  expect(record?.clientClosed).toBe(true);
  expect(record?.sent).toBeLessThan(ReplyBytes / 2);
}

/**
 * The record once the server saw the reply end, closed by the client or sent whole (polled every 25 ms, at most 200
 * times: the close reaches the server just after the client gave up).
 */
async function settled(
  record: () => Promise<OversizedReplyRecord | undefined> | OversizedReplyRecord | undefined,
): Promise<OversizedReplyRecord | undefined> {
  let last: OversizedReplyRecord | undefined;
  for (let i = 0; i < 200; i++) {
    last = await record();
    if (last?.clientClosed === true || last?.complete === true) return last;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return last;
}

describe('the token server reply (registry Bearer auth)', () => {
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  const lading = ladingIn(() => ({ cwd, env }), { inProcess: true });

  beforeAll(async () => {
    cwd = await mkdtemp(path.join(testbed().dir, 'bounded-'));
    ({ env } = await makeToolHome(cwd));
  });

  it('a 64 MiB token reply is refused as too large (exit 8) after reading 1 MiB, the connection closed', async () => {
    const bed = testbed();
    const repository = `bounded/huge-token-${randomBytes(4).toString('hex')}`;
    const registered = await fetch(`${bed.tokenServer.url}/_faults`, {
      method: 'POST',
      body: JSON.stringify({ repository, bytes: ReplyBytes }),
    });
    expect(registered.status).toBe(204);
    const registry = bed.registries.token;
    const result = await lading(['ls', '--json', `${registry.host}/${repository}:v1`]);
    expect(result.code, result.stderr).toBe(8);
    const realm = new URL(bed.tokenServer.realm);
    expect(json<ErrorJSON>(result).error).toMatchObject({
      code: 'ERR_LADING_PROTOCOL',
      exitCode: 8,
      message: `authenticate ${registry.host}: token server reply from ${realm.origin}${realm.pathname}: too large: more than the ${MaxTokenReplyBytes}-byte limit`,
    });
    expect(result.stdout + result.stderr).not.toMatch(/sent no token/);
    const reply = async () => {
      const records = await tokenRequests(bed);
      return records.find((r) => r.scopes.some((scope) => scope.includes(repository)))?.oversized;
    };
    expectStoppedEarly(await settled(reply));
  });
});

async function refusal(promise: Promise<unknown>): Promise<LadingError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLadingError(error)) throw new Error(`expected a LadingError, got ${String(error)}`);
  return error;
}

const servers: OversizedServer[] = [];
async function oversized(options: Parameters<typeof startOversizedServer>[0]): Promise<OversizedServer> {
  const server = await startOversizedServer(options);
  servers.push(server);
  return server;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('identity tokens and OIDC replies (@lading/sigstore)', () => {
  it("a CI token endpoint's 64 MiB answer is refused as too large after 1 MiB, the request token never shown", async () => {
    const server = await oversized({ path: '/token', bytes: ReplyBytes, head: '{"value": "' });
    const requestToken = `request-${randomBytes(8).toString('hex')}`;
    const provider = ambientIdentityToken({
      env: {
        ACTIONS_ID_TOKEN_REQUEST_URL: `${server.url}/token?api-version=2.0&secret=${requestToken}`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken,
      },
    });
    const error = await refusal(provider());
    expect(error.code).toBe(ErrorCodes.protocol);
    expect(error.message).toBe(
      `identity token github-actions: reply from ${server.url}/token: too large: more than the ${MaxServiceReplyBytes}-byte limit`,
    );
    expect(error.service).toBe('identity provider');
    expect(error.message).not.toContain(requestToken);
    expectStoppedEarly(await settled(() => server.replies[0]));
  });

  it("an OpenID provider's 64 MiB discovery document is refused as too large after 1 MiB", async () => {
    const server = await oversized({
      path: '/.well-known/openid-configuration',
      bytes: ReplyBytes,
      head: '{"issuer": "',
    });
    const urls: string[] = [];
    const error = await refusal(
      browserIdentityToken({ issuer: server.url, openBrowser: false, onAuthorizationURL: (url) => urls.push(url) }),
    );
    expect(error.code).toBe(ErrorCodes.protocol);
    expect(error.message).toMatch(
      `: reply from ${server.url}/.well-known/openid-configuration: too large: more than the ${MaxServiceReplyBytes}-byte limit`,
    );
    expect(urls).toEqual([]);
    expectStoppedEarly(await settled(() => server.replies[0]));
  });
});

describe('TUF mirror replies (fetchTrustedRoot)', () => {
  it('a 64 MiB timestamp.json is refused as too large; tuf-js reads it under its 16 KiB bound', async () => {
    const harness = await startSigstoreHarness();
    const repo = await startTUFRepository({ trustedRoot: harness.trustedRoot });
    try {
      // A mirror that has no newer root (404) and answers timestamp.json with 64 MiB.
      const server = await oversized({ path: '/timestamp.json', bytes: ReplyBytes, head: '{"signed": "' });
      const cachePath = await mkdtemp(path.join(testbed().dir, 'tuf-cache-'));
      const error = await refusal(
        fetchTrustedRoot({ mirrorURL: server.url, rootPath: repo.initialRootPath, cachePath }),
      );
      expect(server.paths).toEqual(['/2.root.json', '/timestamp.json']);
      expect(error.code).toBe(ErrorCodes.verification);
      expect(error.message).toContain(`load trusted root tuf ${server.url}: a file of the mirror is too large`);
      expect(error.message).toContain('timestamp.json 16384 bytes');
      // tuf-js stops reading but leaves the connection open (it never cancels the body): what went out is the
      // bound plus socket buffers, far below the reply.
      const reply = server.replies[0];
      expect(reply?.complete).toBe(false);
      expect(reply?.sent).toBeLessThan(ReplyBytes / 2);
    } finally {
      await repo.close();
      await harness.close();
    }
  });
});
