import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isLadingError } from '@lading/core';
import { ambientIdentityToken } from './identity-token.js';

let server: Server | undefined;

afterEach(async () => {
  const running = server;
  server = undefined;
  if (running)
    await new Promise<void>((resolve) =>
      running.close(() => {
        resolve();
      }),
    );
});

/** A loopback stand-in for GitHub's OIDC token endpoint; records each request. */
async function tokenEndpoint(
  status: number,
  body: unknown,
): Promise<{ url: string; seen: IncomingMessage[]; bodies: string[] }> {
  const seen: IncomingMessage[] = [];
  const bodies: string[] = [];
  server = createServer((request, response) => {
    seen.push(request);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString());
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/token?api-version=2.0`, seen, bodies };
}

describe('ambientIdentityToken', () => {
  it('takes SIGSTORE_ID_TOKEN first', async () => {
    const provider = ambientIdentityToken({
      env: { SIGSTORE_ID_TOKEN: ' tok \n', ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/x' },
    });
    expect(await provider()).toBe('tok');
  });

  it('asks GitHub Actions with audience sigstore and the request token as bearer', async () => {
    const endpoint = await tokenEndpoint(200, { value: 'gha-token', count: 1 });
    const provider = ambientIdentityToken({
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: endpoint.url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-secret' },
    });
    expect(await provider()).toBe('gha-token');
    const [request] = endpoint.seen;
    expect(request?.url).toBe('/token?api-version=2.0&audience=sigstore');
    expect(request?.headers.authorization).toBe('Bearer request-secret');
  });

  it('refuses with ERR_LADING_AUTH when GitHub refuses, without leaking the request token', async () => {
    const endpoint = await tokenEndpoint(403, { message: 'no id-token permission' });
    const provider = ambientIdentityToken({
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: endpoint.url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-secret' },
    });
    const refused = await provider().catch((e: unknown) => e);
    expect(isLadingError(refused, 'ERR_LADING_AUTH')).toBe(true);
    expect((refused as Error).message).toMatch(/identity token github-actions: 127.0.0.1:\d+ answered HTTP 403/);
    expect((refused as Error).message).not.toContain('request-secret');
  });

  it('refuses an answer without a token', async () => {
    const endpoint = await tokenEndpoint(200, { count: 0 });
    const provider = ambientIdentityToken({
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: endpoint.url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't' },
    });
    await expect(provider()).rejects.toThrow(/the answer has no "value" token/);
  });

  it('says what to do when the environment has no token', async () => {
    const refused = await ambientIdentityToken({ env: {} })().catch((e: unknown) => e);
    expect(isLadingError(refused, 'ERR_LADING_AUTH')).toBe(true);
    expect((refused as Error).message).toMatch(/set SIGSTORE_ID_TOKEN/);
  });

  describe('Buildkite', () => {
    it('POSTs the audience to the agent API for the job, with the agent token', async () => {
      const endpoint = await tokenEndpoint(200, { token: 'bk-token' });
      const base = new URL(endpoint.url).origin;
      const provider = ambientIdentityToken({
        env: {
          BUILDKITE_AGENT_ACCESS_TOKEN: 'agent-secret',
          BUILDKITE_JOB_ID: 'job-42',
          BUILDKITE_AGENT_ENDPOINT: `${base}/v3`,
        },
      });
      expect(await provider()).toBe('bk-token');
      const [request] = endpoint.seen;
      expect(request?.method).toBe('POST');
      expect(request?.url).toBe('/v3/jobs/job-42/oidc/tokens');
      expect(request?.headers.authorization).toBe('Token agent-secret');
      expect(JSON.parse(endpoint.bodies[0] ?? '')).toEqual({ audience: 'sigstore' });
    });

    it('refuses without leaking the agent token, and without a job id', async () => {
      const endpoint = await tokenEndpoint(401, { message: 'bad token' });
      const env = {
        BUILDKITE_AGENT_ACCESS_TOKEN: 'agent-secret',
        BUILDKITE_JOB_ID: 'job-42',
        BUILDKITE_AGENT_ENDPOINT: new URL(endpoint.url).origin,
      };
      const refused = await ambientIdentityToken({ env })().catch((e: unknown) => e);
      expect(isLadingError(refused, 'ERR_LADING_AUTH')).toBe(true);
      expect((refused as Error).message).toMatch(/identity token buildkite: 127.0.0.1:\d+ answered HTTP 401/);
      expect((refused as Error).message).not.toContain('agent-secret');
      const noJob = ambientIdentityToken({ env: { BUILDKITE_AGENT_ACCESS_TOKEN: 'agent-secret' } });
      await expect(noJob()).rejects.toThrow(/BUILDKITE_JOB_ID is not set/);
    });

    it('refuses an answer without a token', async () => {
      const endpoint = await tokenEndpoint(200, { value: 'wrong field' });
      const provider = ambientIdentityToken({
        env: { BUILDKITE_AGENT_ACCESS_TOKEN: 'a', BUILDKITE_JOB_ID: 'j', BUILDKITE_AGENT_ENDPOINT: endpoint.url },
      });
      await expect(provider()).rejects.toThrow(/the answer has no "token"/);
    });
  });
});
