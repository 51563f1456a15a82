import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type PeerTool, peerTools, run, toolPath } from './tools.js';

/** What {@link peerToolVersion} found out about a tool. */
export interface PeerToolVersion {
  tool: PeerTool;
  /** Absolute path that was run. */
  path: string;
  /** Version string, e.g. `1.3.3`, `2.8.3+ds1`, `9.2p1`. */
  version: string;
  /** Where `version` comes from: the tool's own output, or its Debian package's changelog (builds without one). */
  source: 'output' | 'debian-changelog';
}

interface Probe {
  args: readonly string[];
  /** Output that proves the tool works; default: the probe exits 0. */
  expect?: RegExp;
  /**
   * Where the version is in the output (group 1). Anchored per tool: a looser pattern finds the Go version that
   * Debian's builds of cosign print instead of their own. Absent: the tool prints none.
   */
  version?: RegExp;
  /** Debian package whose changelog names the version when the tool prints none (distro builds of cosign, crane). */
  debianPackage: string;
}

/** How each peer tool is asked for its version (or, without one, proven to run). */
const probes: Record<PeerTool, Probe> = {
  oras: { args: ['version'], version: /^Version:\s+v?(\d\S*)/m, debianPackage: 'oras' },
  // Debian's cosign says `GitVersion: devel`, and crane `could not determine build information`.
  cosign: { args: ['version'], version: /^GitVersion:\s+v?(\d\S*)/m, debianPackage: 'cosign' },
  crane: { args: ['version'], version: /^v?(\d+\.\d+\S*)$/m, debianPackage: 'crane' },
  notation: { args: ['version'], version: /^Version:\s+v?(\d\S*)/m, debianPackage: 'notation' },
  'docker-registry': { args: ['--version'], version: /distribution v?(\d\S*)/, debianPackage: 'docker-registry' },
  skopeo: { args: ['--version'], version: /^skopeo version (\d\S*)/m, debianPackage: 'skopeo' },
  // ssh-keygen has no version flag; its usage proves it runs, and `ssh -V` (same package) names the version.
  'ssh-keygen': {
    args: ['-?'],
    expect: /usage: ssh-keygen/,
    version: /OpenSSH_([^\s,]+)/,
    debianPackage: 'openssh-client',
  },
  openssl: { args: ['version'], version: /^OpenSSL (\d\S*)/m, debianPackage: 'openssl' },
  // htpasswd has no version flag either: hashing a bcrypt line proves the part we use works.
  htpasswd: { args: ['-nbB', 'probe', 'probe'], expect: /^probe:\$2y\$/, debianPackage: 'apache2-utils' },
};

/**
 * Runs a peer tool's version command in an empty environment (`home` as HOME) and returns its version.
 * Throws, naming the install command, when the tool is missing, fails, or names no version anywhere.
 */
export async function peerToolVersion(tool: PeerTool, home: string): Promise<PeerToolVersion> {
  const file = toolPath(tool);
  const probe = probes[tool];
  const res = await run(file, probe.args, { env: isolatedEnv(home), check: probe.expect === undefined });
  const output = `${res.stdout}\n${res.stderr}`;
  if (probe.expect && !probe.expect.test(res.stdout + res.stderr)) {
    throw new Error(`test bed: ${tool} ${probe.args.join(' ')} did not work (exit ${res.code}): ${output.trim()}`);
  }
  const printed = tool === 'ssh-keygen' ? await sshVersion(file, home) : output;
  const own = probe.version?.exec(printed)?.[1];
  if (own !== undefined) return { tool, path: file, version: own, source: 'output' };
  const packaged = debianVersion(file, probe.debianPackage);
  if (packaged !== undefined) return { tool, path: file, version: packaged, source: 'debian-changelog' };
  throw new Error(`test bed: ${tool} prints no version (${output.trim()}); reinstall with ${peerTools[tool]}`);
}

/** What `ssh -V` beside `ssh-keygen` prints (on stderr), or '' without it. */
async function sshVersion(sshKeygen: string, home: string): Promise<string> {
  const ssh = path.join(path.dirname(sshKeygen), 'ssh');
  if (!existsSync(ssh)) return '';
  const res = await run(ssh, ['-V'], { env: isolatedEnv(home), check: false });
  return res.stderr + res.stdout;
}

/**
 * The version in the first line of `<prefix>/share/doc/<package>/changelog.Debian.gz`, for a tool in
 * `<prefix>/bin` (symlinks resolved: `/bin` is `/usr/bin` on merged-/usr Debian).
 */
function debianVersion(file: string, pkg: string): string | undefined {
  const prefix = path.dirname(path.dirname(realpathSync(file)));
  const changelog = path.join(prefix, 'share/doc', pkg, 'changelog.Debian.gz');
  if (!existsSync(changelog)) return undefined;
  const first = gunzipSync(readFileSync(changelog)).toString('utf8').split('\n', 1)[0] ?? '';
  return /\(([^)]+)\)/.exec(first)?.[1];
}

/**
 * Checks every tool in {@link peerTools} at once and returns their versions. Throws one error listing every
 * missing or broken tool with its install command: a missing tool fails the run, nothing is skipped.
 */
export async function checkPeerTools(home: string): Promise<PeerToolVersion[]> {
  const tools = Object.keys(peerTools) as PeerTool[];
  const results = await Promise.allSettled(tools.map((t) => peerToolVersion(t, home)));
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`  - ${tools[i] ?? '?'}: ${(r.reason as Error).message}`] : [],
  );
  if (failures.length > 0) {
    throw new Error(`test bed: peer tools missing or broken (install them, then rerun):\n${failures.join('\n')}`);
  }
  return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
}

/**
 * An environment for peer tools that sees no user configuration or credentials: `PATH` (and `TMPDIR`) from this
 * process, everything else pointing into `home`: `HOME`, `DOCKER_CONFIG=<home>/.docker`, `XDG_CONFIG_HOME`,
 * `XDG_DATA_HOME`, `XDG_CACHE_HOME`, `XDG_RUNTIME_DIR` and `REGISTRY_AUTH_FILE=<home>/containers-auth.json`
 * (skopeo). No proxy, `SSL_CERT_*`, `COSIGN_*` or `SIGSTORE_*` variables pass through; add them via `extra`.
 */
export function isolatedEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    DOCKER_CONFIG: path.join(home, '.docker'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_RUNTIME_DIR: path.join(home, 'run'),
    REGISTRY_AUTH_FILE: path.join(home, 'containers-auth.json'),
    LANG: 'C.UTF-8',
  };
  if (process.env.TMPDIR !== undefined) env.TMPDIR = process.env.TMPDIR;
  return { ...env, ...extra };
}

/**
 * Makes a fresh home folder under `parent` (`home-XXXXXX`, with an empty `.docker/` and a 0700 `run/`) and
 * returns it with its {@link isolatedEnv}. Tests make one each so tools never share logins or caches.
 */
export async function makeToolHome(parent: string): Promise<{ home: string; env: NodeJS.ProcessEnv }> {
  const home = await mkdtemp(path.join(parent, 'home-'));
  await mkdir(path.join(home, '.docker'));
  await mkdir(path.join(home, 'run'), { mode: 0o700 });
  return { home, env: isolatedEnv(home) };
}
