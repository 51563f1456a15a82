import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (the folder holding `pnpm-workspace.yaml`), found from this file in src/ or in compiled dist/. */
export const repoRoot = findRoot(path.dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`test bed: no pnpm-workspace.yaml above ${start}`);
  }
}

/** Where `scripts/peer-tools.sh` unpacks the Debian sid peer tools. */
export const peerToolsBin = path.join(repoRoot, '.tools/deb/root/usr/bin');

/** The peer tools the test bed needs, and the command that installs each. */
export const peerTools = {
  oras: 'scripts/peer-tools.sh',
  cosign: 'scripts/peer-tools.sh',
  crane: 'scripts/peer-tools.sh',
  notation: 'scripts/peer-tools.sh',
  'docker-registry': 'scripts/peer-tools.sh (or apt-get install docker-registry)',
  skopeo: 'scripts/peer-tools.sh (or apt-get install skopeo)',
  'ssh-keygen': 'apt-get install openssh-client',
  openssl: 'apt-get install openssl',
  htpasswd: 'apt-get install apache2-utils',
} as const;

/** Name of a peer tool the test bed knows. */
export type PeerTool = keyof typeof peerTools;

/**
 * Absolute path of a peer tool: the sid cache first (newer versions), then PATH.
 * Throws an error naming the install command when the tool is missing: the suite never skips.
 */
export function toolPath(name: PeerTool): string {
  const cached = path.join(peerToolsBin, name);
  if (existsSync(cached)) return cached;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(`test bed: ${name} is not installed; run ${peerTools[name]}`);
}

/** Result of {@link run}. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed. Default: stdin closed at once. */
  input?: string | Uint8Array;
  /** Throw when the exit code is not 0. Default true. */
  check?: boolean;
  signal?: AbortSignal;
}

/**
 * Runs a command to completion and returns its exit code and output. Peer tools are resolved with {@link toolPath}.
 * With `check` (the default) a non-zero exit throws an error carrying the command line, code, stdout and stderr.
 */
export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const file = command in peerTools ? toolPath(command as PeerTool) : command;
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    signal: options.signal,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => {
    out.push(b);
  });
  child.stderr.on('data', (b: Buffer) => {
    err.push(b);
  });
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, sig) => {
      resolve(c ?? (sig ? 128 : 1));
    });
  });
  const result = { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  if ((options.check ?? true) && code !== 0) {
    throw new Error(
      `${path.basename(file)} ${args.join(' ')} exited ${code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
  return result;
}
