// Every reply lading reads from a service it does not control is read under a bound, while reading: the token
// server, CI token endpoints, OpenID providers and TUF mirrors. Each test serves a reply far larger than the bound
// from a real loopback server that streams with backpressure, and checks both sides: the client refuses it as too
// large (naming the limit and the URL, never a credential), and the server saw it stop early (the connection closed
// with most of the reply unsent), which a client that buffers the whole reply before checking it cannot do.

import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';

import type { ErrorJSON } from '@lading/cli';
import { MaxTokenReplyBytes } from '@lading/core';
import { beforeAll, describe, expect, it } from 'vitest';

import { json, ladingIn } from './cli-runner.js';
import { makeToolHome, testbed, tokenRequests, type OversizedReplyRecord } from './testbed/index.js';

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
  const lading = ladingIn(() => ({ cwd, env }));

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
