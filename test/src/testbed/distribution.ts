import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { answersHTTP, type RunningServer, startServer, withFreePort } from './process.js';
import { run, toolPath } from './tools.js';

/** A user name and password. */
export interface Credentials {
  username: string;
  password: string;
}

/** How a distribution instance authenticates clients. */
export type DistributionAuth =
  | { kind: 'anonymous' }
  /** Basic auth against a bcrypt htpasswd file written from `users`. `realm` default `lading-testbed`. */
  | { kind: 'htpasswd'; users: readonly Credentials[]; realm?: string }
  /** Bearer tokens from a token server; `rootCertBundle` is the PEM file of the certificate(s) signing them. */
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

/** TLS material for an `https` distribution. */
export interface DistributionTLS {
  certFile: string;
  keyFile: string;
  /** PEM of the CA that issued `certFile`, used to probe readiness. */
  caPem: string;
}

/** Options of {@link startDistribution}. */
export interface DistributionOptions {
  /** Folder for `config.yml`, `storage/`, `registry.log` (and `htpasswd`); created if needed. */
  dir: string;
  /** Name used in messages, e.g. `token`. */
  name: string;
  auth: DistributionAuth;
  /** Serve HTTPS with this certificate. Default: plain HTTP. */
  tls?: DistributionTLS;
}

/** A running distribution instance. */
export interface RunningDistribution extends RunningServer {
  readonly name: string;
  /** `127.0.0.1:PORT`, the registry part of references. */
  readonly host: string;
  /** `http://127.0.0.1:PORT` or `https://...` with TLS. */
  readonly url: string;
  readonly configFile: string;
  readonly storageDir: string;
}

/** What {@link distributionConfig} turns into `config.yml`. */
export interface DistributionConfigInput {
  port: number;
  storageDir: string;
  /** The `auth` section; `htpasswd` given as its file path. */
  auth:
    | { kind: 'anonymous' }
    | { kind: 'htpasswd'; realm: string; path: string }
    | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };
  tls?: { certFile: string; keyFile: string };
}

/**
 * Starts CNCF distribution (`docker-registry serve`, the sid 2.8.3 first) on 127.0.0.1 and a free port, with
 * filesystem storage and deletes enabled, and waits until `/v2/` answers (200 or 401). Logs go to
 * `<dir>/registry.log`; a failed start throws with the log's tail. The environment is `PATH` and `HOME=<dir>` only.
 */
export async function startDistribution(options: DistributionOptions): Promise<RunningDistribution> {
  await mkdir(options.dir, { recursive: true });
  const storageDir = path.join(options.dir, 'storage');
  const auth = await authSection(options);
  return withFreePort(async (port) => {
    const configFile = path.join(options.dir, 'config.yml');
    const tls = options.tls && { certFile: options.tls.certFile, keyFile: options.tls.keyFile };
    await writeFile(configFile, toYAML(distributionConfig({ port, storageDir, auth, ...(tls && { tls }) })));
    const host = `127.0.0.1:${port}`;
    const url = `${options.tls ? 'https' : 'http'}://${host}`;
    const caPem = options.tls?.caPem;
    const server = await startServer({
      name: `distribution (${options.name})`,
      command: toolPath('docker-registry'),
      args: ['serve', configFile],
      logFile: path.join(options.dir, 'registry.log'),
      cwd: options.dir,
      ready: () => answersHTTP(`${url}/v2/`, caPem === undefined ? {} : { ca: caPem }),
    });
    return Object.assign(server, { name: options.name, host, url, configFile, storageDir });
  });
}

async function authSection(options: DistributionOptions): Promise<DistributionConfigInput['auth']> {
  const auth = options.auth;
  if (auth.kind !== 'htpasswd') return auth;
  const file = path.join(options.dir, 'htpasswd');
  await writeHtpasswd(file, auth.users);
  return { kind: 'htpasswd', realm: auth.realm ?? 'lading-testbed', path: file };
}

/**
 * Writes an htpasswd file with a bcrypt line per user (`htpasswd -B`, the only hash distribution accepts).
 * Passwords go through stdin (`-i`), never on a command line.
 */
export async function writeHtpasswd(file: string, users: readonly Credentials[]): Promise<void> {
  const lines = await Promise.all(
    users.map(async (u) => (await run('htpasswd', ['-niB', u.username], { input: `${u.password}\n` })).stdout.trim()),
  );
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
}

/**
 * distribution's configuration as an object: `version 0.1`, text logs at info level, filesystem storage with
 * deletes enabled and upload purging off, `http.addr 127.0.0.1:<port>` with a fresh random `http.secret`,
 * the storage health check off, and the given `auth` and `tls`.
 */
export function distributionConfig(input: DistributionConfigInput): Record<string, unknown> {
  const http: Record<string, unknown> = { addr: `127.0.0.1:${input.port}`, secret: randomBytes(24).toString('hex') };
  if (input.tls) http.tls = { certificate: input.tls.certFile, key: input.tls.keyFile };
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'info', formatter: 'text' },
    storage: {
      filesystem: { rootdirectory: input.storageDir },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http,
    health: { storagedriver: { enabled: false } },
  };
  const auth = authConfig(input.auth);
  if (auth) config.auth = auth;
  return config;
}

function authConfig(auth: DistributionConfigInput['auth']): Record<string, unknown> | undefined {
  switch (auth.kind) {
    case 'anonymous':
      return undefined;
    case 'htpasswd':
      return { htpasswd: { realm: auth.realm, path: auth.path } };
    case 'token':
      return {
        token: { realm: auth.realm, service: auth.service, issuer: auth.issuer, rootcertbundle: auth.rootCertBundle },
      };
  }
}

/**
 * Block-style YAML for nested objects, arrays and scalars. Strings are double-quoted JSON strings (valid YAML
 * double-quoted scalars), so paths and secrets need no further escaping.
 */
export function toYAML(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    return value.map((v: unknown) => `${indent}-${block(v, `${indent}  `, ' ')}`).join('');
  }
  if (isObject(value)) {
    return Object.entries(value)
      .map(([k, v]) => `${indent}${k}:${block(v, `${indent}  `, ' ')}`)
      .join('');
  }
  return `${indent}${scalar(value)}\n`;
}

function block(value: unknown, indent: string, sep: string): string {
  return isObject(value) || Array.isArray(value) ? `\n${toYAML(value, indent)}` : `${sep}${scalar(value)}\n`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalar(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'null';
  throw new Error(`toYAML: unsupported value ${typeof value}`);
}
