import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  basicAuthorization,
  createTokenSigner,
  type Credentials,
  decodeJWT,
  fetchToken,
  makeToolHome,
  type PeerTool,
  peerTools,
  peerToolVersion,
  run,
  signJWT,
  type TestBed,
  testbed,
  tokenRequests,
  writeDockerConfig,
} from './testbed/index.js';

// Smoke tests of the test bed itself: every server answers as configured, auth behaves as documented, and the
// peer tools interoperate with every registry. If these fail, every other integration test is meaningless.

const bed: TestBed = testbed();
let env: NodeJS.ProcessEnv;
let home: string;

beforeAll(async () => {
  ({ home, env } = await makeToolHome(bed.dir));
});

const unique = () => randomBytes(4).toString('hex');

/** Parses `Scheme k="v",k="v"` into the scheme and its parameters. */
function challenge(header: string | null): { scheme: string; params: Record<string, string> } {
  const [scheme = '', rest = ''] = (header ?? '').split(/ (.*)/s);
  const params: Record<string, string> = {};
  for (const m of rest.matchAll(/(\w+)="([^"]*)"/g)) params[m[1] ?? ''] = m[2] ?? '';
  return { scheme, params };
}

describe('peer tools', () => {
  it.each(Object.keys(peerTools) as PeerTool[])('%s runs and names its version', async (tool) => {
    const found = await peerToolVersion(tool, home);
    expect(found.version).toMatch(/^\d+\.\d+/);
    expect(bed.peerTools.find((p) => p.tool === tool)?.version).toBe(found.version);
  });

  it('are the release lines docs/interop.md was checked against', () => {
    const line = (tool: PeerTool) => /^\d+\.\d+/.exec(bed.peerTools.find((p) => p.tool === tool)?.version ?? '')?.[0];
    const lines = Object.fromEntries(
      (['oras', 'crane', 'notation', 'docker-registry'] as const).map((t) => [t, line(t)]),
    );
    expect(lines).toEqual({ oras: '1.3', crane: '0.20', notation: '1.3', 'docker-registry': '2.8' });
    expect(line('cosign')).toMatch(/^3\./);
  });
});

describe('every registry answers /v2/', () => {
  it('anonymous distribution and crane answer 200 without credentials', async () => {
    for (const r of [bed.registries.anonymous, bed.registries.crane]) {
      const res = await fetch(`${r.url}/v2/`);
      expect(res.status, r.url).toBe(200);
    }
    const res = await fetch(`${bed.registries.anonymous.url}/v2/`);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('htpasswd distribution challenges with Basic and accepts only its user', async () => {
    const r = bed.registries.htpasswd;
    const anon = await fetch(`${r.url}/v2/`);
    expect(anon.status).toBe(401);
    expect(challenge(anon.headers.get('www-authenticate'))).toEqual({ scheme: 'Basic', params: { realm: r.realm } });
    const wrong = { ...r.credentials, password: 'not-the-password' };
    expect((await fetch(`${r.url}/v2/`, { headers: { Authorization: basicAuthorization(wrong) } })).status).toBe(401);
    const ok = await fetch(`${r.url}/v2/`, { headers: { Authorization: basicAuthorization(r.credentials) } });
    expect(ok.status).toBe(200);
  });

  it('token distribution challenges with Bearer naming the token server, and accepts its token', async () => {
    const r = bed.registries.token;
    const anon = await fetch(`${r.url}/v2/`);
    expect(anon.status).toBe(401);
    const { scheme, params } = challenge(anon.headers.get('www-authenticate'));
    expect(scheme).toBe('Bearer');
    expect(params).toMatchObject({ realm: bed.tokenServer.realm, service: bed.tokenServer.service });
    const token = await fetchToken(bed, [], bed.tokenServer.users.alice);
    expect((await fetch(`${r.url}/v2/`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('TLS distribution is trusted with the test CA and refused without it', async () => {
    const r = bed.registries.tls;
    const ca = await readFile(r.caFile, 'utf8');
    const refused = await undiciFetch(`${r.url}/v2/`, { dispatcher: new Agent() }).then(
      () => undefined,
      (e: unknown) => e as Error & { cause?: { code?: string } },
    );
    expect(refused?.cause?.code).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
    const byIP = await undiciFetch(`${r.url}/v2/`, { dispatcher: new Agent({ connect: { ca } }) });
    expect(byIP.status).toBe(200);
    const byName = new Agent({ connect: { ca, servername: 'localhost' } });
    expect((await undiciFetch(`${r.url}/v2/`, { dispatcher: byName })).status).toBe(200);
  });
});

describe('token server', () => {
  const registry = () => bed.registries.token;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const startUpload = (repo: string, token: string) =>
    fetch(`${registry().url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: bearer(token) });

  it('grants alice pull and push on her repositories, and distribution lets her start an upload', async () => {
    const repo = `alice/app-${unique()}`;
    const token = await fetchToken(bed, [`repository:${repo}:pull,push`], bed.tokenServer.users.alice);
    const { header, claims } = decodeJWT(token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(header.x5c).toHaveLength(1);
    expect(claims).toMatchObject({ iss: bed.tokenServer.issuer, aud: bed.tokenServer.service, sub: 'alice' });
    expect(claims.access).toEqual([{ type: 'repository', name: repo, actions: ['pull', 'push'] }]);
    const res = await startUpload(repo, token);
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toContain(`/v2/${repo}/blobs/uploads/`);
  });

  it('grants only the allowed actions: pull on shared/*, so distribution refuses the push', async () => {
    const repo = `shared/lib-${unique()}`;
    const token = await fetchToken(bed, [`repository:${repo}:pull,push`], bed.tokenServer.users.alice);
    expect(decodeJWT(token).claims.access).toEqual([{ type: 'repository', name: repo, actions: ['pull'] }]);
    const push = await startUpload(repo, token);
    expect(push.status).toBe(401);
    expect(challenge(push.headers.get('www-authenticate')).params).toMatchObject({ error: 'insufficient_scope' });
    const pull = await fetch(`${registry().url}/v2/${repo}/tags/list`, { headers: bearer(token) });
    expect(pull.status).toBe(404); // authorised; the repository just does not exist
    expect(await pull.json()).toMatchObject({ errors: [{ code: 'NAME_UNKNOWN' }] });
  });

  it('gives anonymous callers pull on public/* and nothing elsewhere', async () => {
    const open = `public/docs-${unique()}`;
    const closed = `alice/secret-${unique()}`;
    const token = await fetchToken(bed, [`repository:${open}:pull,push`, `repository:${closed}:pull`]);
    expect(decodeJWT(token).claims).toMatchObject({ sub: '', access: [{ name: open, actions: ['pull'] }] });
    const res = await fetch(`${registry().url}/v2/${closed}/tags/list`, { headers: bearer(token) });
    expect(res.status).toBe(401);
  });

  it('answers 401 to a wrong password and records the request without secrets', async () => {
    const scope = `repository:alice/denied-${unique()}:pull`;
    const url = new URL(bed.tokenServer.realm);
    url.search = new URLSearchParams({ service: bed.tokenServer.service, scope }).toString();
    const wrong: Credentials = { username: 'alice', password: `wrong-${unique()}` };
    const res = await fetch(url, { headers: { Authorization: basicAuthorization(wrong) } });
    expect(res.status).toBe(401);
    const records = await tokenRequests(bed);
    const mine = records.filter((r) => r.scopes.includes(scope));
    expect(mine).toEqual([expect.objectContaining({ account: 'alice', grant: 'basic', status: 401, granted: [] })]);
    const all = JSON.stringify(records);
    expect(all).not.toContain(wrong.password);
    expect(all).not.toContain(bed.tokenServer.users.alice.password);
  });

  it('answers 400 to a request for another service', async () => {
    const url = new URL(bed.tokenServer.realm);
    url.searchParams.set('service', 'some-other-registry');
    const res = await fetch(url, { headers: { Authorization: basicAuthorization(bed.tokenServer.users.bob) } });
    expect(res.status).toBe(400);
  });

  it('serves the OAuth2 password and refresh-token grants', async () => {
    const repo = `alice/oauth-${unique()}`;
    const post = (form: Record<string, string>) =>
      fetch(bed.tokenServer.realm, { method: 'POST', body: new URLSearchParams(form) });
    const { username, password } = bed.tokenServer.users.alice;
    const common = { service: bed.tokenServer.service, client_id: 'lading-test', scope: `repository:${repo}:push` };
    const first = await post({ ...common, grant_type: 'password', username, password, access_type: 'offline' });
    expect(first.status).toBe(200);
    const body = (await first.json()) as { access_token: string; refresh_token: string; scope: string };
    expect(body.scope).toBe(`repository:${repo}:push`);
    expect(body.refresh_token).toMatch(/^[\w-]{20,}$/);
    const again = await post({ ...common, grant_type: 'refresh_token', refresh_token: body.refresh_token });
    const refreshed = (await again.json()) as { access_token: string };
    expect(decodeJWT(refreshed.access_token).claims.sub).toBe('alice');
    const bad = await post({ ...common, grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' });
    expect(bad.status).toBe(401);
  });

  it('tokens signed by a key outside rootcertbundle are refused by distribution', async () => {
    const repo = `alice/forged-${unique()}`;
    const genuine = await fetchToken(bed, [`repository:${repo}:pull`], bed.tokenServer.users.alice);
    const rogue = await createTokenSigner(path.join(home, 'rogue'), 'rogue');
    const forged = signJWT(decodeJWT(genuine).claims, rogue);
    const url = `${registry().url}/v2/${repo}/tags/list`;
    expect((await fetch(url, { headers: bearer(genuine) })).status).toBe(404);
    expect((await fetch(url, { headers: bearer(forged) })).status).toBe(401);
  });
});

/** How the peer tools reach one registry of the bed: their flags, environment, user and writable namespace. */
interface Route {
  oras: string[];
  crane: string[];
  skopeo: string[];
  env: NodeJS.ProcessEnv;
  user?: Credentials;
  /** First path component of repositories the user may push to (`alice` on the token registry). */
  namespace: string;
}

const PLAIN_HTTP = { oras: ['--plain-http'], crane: ['--insecure'], skopeo: ['--tls-verify=false'] };

async function routeTo(name: keyof TestBed['registries']): Promise<Route> {
  switch (name) {
    case 'anonymous':
    case 'crane':
      return { ...PLAIN_HTTP, env, namespace: 'lading' };
    case 'htpasswd':
      return { ...PLAIN_HTTP, env, namespace: 'lading', user: bed.registries.htpasswd.credentials };
    case 'token':
      return { ...PLAIN_HTTP, env, namespace: 'alice', user: bed.tokenServer.users.alice };
    case 'tls': {
      // skopeo trusts the *.crt files of --cert-dir; crane has no CA flag and honours SSL_CERT_FILE (Go on Linux).
      const caFile = bed.registries.tls.caFile;
      const certDir = path.join(home, 'certs.d');
      await mkdir(certDir, { recursive: true });
      await copyFile(caFile, path.join(certDir, 'ca.crt'));
      const tlsEnv = { ...env, SSL_CERT_FILE: caFile };
      return {
        oras: ['--ca-file', caFile],
        crane: [],
        skopeo: ['--cert-dir', certDir],
        env: tlsEnv,
        namespace: 'lading',
      };
    }
  }
}

/** Runs oras with the route's flags, logged in as its user (`-u`, password on stdin) when it has one. */
function oras(route: Route, args: readonly string[], cwd: string, check = true) {
  const login = route.user ? ['-u', route.user.username, '--password-stdin'] : [];
  const input = route.user?.password;
  const [verb = '', ...rest] = args;
  return run('oras', [verb, ...route.oras, ...login, ...rest], { cwd, env: route.env, check, ...(input && { input }) });
}

async function workdir(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(home, name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) await writeFile(path.join(dir, file), content);
  return dir;
}

describe('peer tools against every registry', () => {
  const names = ['anonymous', 'htpasswd', 'token', 'tls', 'crane'] as const;

  it.each(names)('oras push and pull round-trip on %s; crane and skopeo read the result', async (name) => {
    const route = await routeTo(name);
    const content = `hello from the ${name} registry ${unique()}\n`;
    const work = await workdir(`roundtrip-${name}`, { 'hello.txt': content });
    const repo = `${bed.registries[name].host}/${route.namespace}/roundtrip-${unique()}`;

    const pushed = await oras(route, ['push', '--format', 'json', `${repo}:v1`, 'hello.txt:text/plain'], work);
    const digest = (JSON.parse(pushed.stdout) as { digest: string }).digest;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    await oras(route, ['pull', '-o', 'out', `${repo}:v1`], work);
    expect(await readFile(path.join(work, 'out', 'hello.txt'), 'utf8')).toBe(content);

    if (route.user) await writeDockerConfig(route.env, { [bed.registries[name].host]: route.user });
    const manifest = await run('crane', ['manifest', ...route.crane, `${repo}:v1`], { env: route.env });
    expect(sha256(manifest.stdout)).toBe(digest);
    const layer = (JSON.parse(manifest.stdout) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
    const blob = await run('crane', ['blob', ...route.crane, `${repo}@${layer}`], { env: route.env });
    expect(blob.stdout).toBe(content);

    const creds = route.user ? ['--creds', `${route.user.username}:${route.user.password}`] : [];
    const raw = await run('skopeo', ['inspect', '--raw', ...route.skopeo, ...creds, `docker://${repo}:v1`], {
      env: route.env,
    });
    expect(sha256(raw.stdout)).toBe(digest);
  });

  it('every client asked the token server for the scopes it needed, and got them', async () => {
    const route = await routeTo('token');
    const work = await workdir('scopes', { 'a.txt': 'a' });
    const name = `alice/scopes-${unique()}`;
    const repo = `${bed.registries.token.host}/${name}`;
    await oras(route, ['push', `${repo}:v1`, 'a.txt'], work);
    await writeDockerConfig(route.env, { [bed.registries.token.host]: bed.tokenServer.users.bob });
    await run('crane', ['digest', ...route.crane, `${repo}:v1`], { env: route.env });
    const mine = (await tokenRequests(bed)).filter((q) => q.scopes.some((s) => s.startsWith(`repository:${name}:`)));
    const byClient = (agent: string) => mine.filter((q) => q.userAgent?.startsWith(agent));
    expect(byClient('oras').map((q) => q.scopes)).toContainEqual([`repository:${name}:pull,push`]);
    expect(byClient('oras').at(-1)).toMatchObject({ account: 'alice', granted: [{ actions: ['pull', 'push'] }] });
    expect(byClient('go-containerregistry').at(-1)).toMatchObject({
      account: 'bob',
      granted: [{ name, actions: ['pull'] }],
    });
  });

  it('oras cannot push where the token server grants alice only pull', async () => {
    const route = await routeTo('token');
    const work = await workdir('denied', { 'x.txt': 'x' });
    const name = `shared/denied-${unique()}`;
    const res = await oras(route, ['push', `${bed.registries.token.host}/${name}:v1`, 'x.txt'], work, false);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/denied|unauthorized|insufficient/i);
    const asked = (await tokenRequests(bed)).filter((q) => q.scopes.some((s) => s.startsWith(`repository:${name}:`)));
    expect(asked.some((q) => q.scopes.some((s) => s.endsWith('push')))).toBe(true);
    expect(asked.flatMap((q) => q.granted)).toEqual(asked.map(() => ({ type: 'repository', name, actions: ['pull'] })));
  });
});

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}
