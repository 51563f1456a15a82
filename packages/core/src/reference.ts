/**
 * References: where an artifact lives. Registry references follow the distribution reference grammar
 * (`host[:port]/path[:tag][@digest]`, https://github.com/distribution/reference/blob/main/reference.go) with Docker
 * Hub normalisation; local OCI image layout directories are written `oci:<dir>[:tag][@digest]`.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

import { parseDigest } from './digest.js';
import { ErrorCodes, LadingError } from './errors.js';

/** Docker Hub's three names: the registry users write, the host to dial, and the docker-config key. */
export const DockerHub = {
  /** The registry name references normalise to. */
  registry: 'docker.io',
  /** The host that serves the registry API (`docker.io` itself does not). */
  host: 'registry-1.docker.io',
  /** The key `docker login` writes into `~/.docker/config.json` and sends to credential helpers. */
  credentialKey: 'https://index.docker.io/v1/',
} as const;

/** Registry names a reference normalises to `docker.io` (docker does the same; `registry-1.docker.io` it keeps). */
const dockerHubNames: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io']);
/** Names that all reach Docker Hub, for dialling and credential keys. */
const dockerHubAliases: ReadonlySet<string> = new Set([...dockerHubNames, DockerHub.host]);

/** The longest `registry/repository` name the distribution spec allows. */
const maxNameLength = 255;

/** A registry reference, normalised: `docker.io/library/ubuntu:24.04`. */
export interface Reference {
  /**
   * Registry name: `host[:port]` in lower case, IPv6 addresses in brackets (`[::1]:5000`); `docker.io` for Docker
   * Hub (whatever alias the input used). Use {@link dialHost} for the host to connect to.
   */
  readonly registry: string;
  /** Repository path, e.g. `acme/app`; Docker Hub names with one component get `library/`. */
  readonly repository: string;
  /** Tag, when given. No default: callers decide whether a missing tag means `latest` or an error. */
  readonly tag?: string;
  /** Digest (`sha256:` or `sha512:`), when given. When both are present the digest is what to resolve. */
  readonly digest?: string;
}

/** A local OCI image layout directory, optionally with a tag (a `ref.name` in its `index.json`) or a digest. */
export interface LayoutReference {
  /** The directory as written (not resolved against the working directory). */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** What {@link parseTarget} returns: a registry reference or a layout directory, told apart by `kind`. */
export type TargetReference =
  ({ readonly kind: 'registry' } & Reference) | ({ readonly kind: 'layout' } & LayoutReference);

/** The prefix that marks a local OCI image layout target. */
const layoutPrefix = 'oci:';

/** One path component: lower-case alphanumerics separated by `.`, `_`, `__` or runs of `-`. */
const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** One DNS label (lower case; see {@link parseHost} for why upper case is refused). */
const domainComponent = /^(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$/;
const tagPattern = /^\w[\w.-]{0,127}$/;

function invalid(input: string, detail: string, cause?: unknown): LadingError {
  const message = `reference ${JSON.stringify(input)}: ${detail}`;
  return new LadingError(ErrorCodes.invalidReference, message, cause === undefined ? {} : { cause });
}

/**
 * Parses a registry reference `[host[:port]/]path[:tag][@digest]` and normalises it (see {@link Reference}).
 *
 * The first path component is the registry host when it contains `.` or `:`, is `localhost`, or is a bracketed IPv6
 * address (Docker's rule); otherwise the whole name is a Docker Hub repository. So `ubuntu` is
 * `docker.io/library/ubuntu` and `localhost:5000` alone is Docker Hub's `library/localhost` at tag `5000`, as in
 * docker. Hosts must be lower case (upper case is refused rather than silently folded, so one registry has one
 * spelling for credential look-up). The normalised `registry/repository` may be at most 255 characters.
 *
 * Throws `ERR_LADING_INVALID_REFERENCE` naming the bad part and the whole input.
 */
export function parseReference(input: string): Reference {
  if (input === '') throw invalid(input, 'is empty');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    // A URL pasted as a reference: say so, and never echo a `user:password@` part back.
    throw invalid(input.replace(/\/\/[^/]*@/, '//***@'), 'a reference has no scheme; remove the "scheme://" prefix');
  }
  const { name, tag, digest } = splitTagAndDigest(input);
  const { host, path } = splitHost(input, name);
  const registry = host === undefined ? DockerHub.registry : parseHost(input, host);
  const repository = parseRepository(input, registry === DockerHub.registry ? dockerHubPath(path) : path);
  const full = `${registry}/${repository}`;
  if (full.length > maxNameLength) {
    throw invalid(input, `name ${JSON.stringify(full)} is ${full.length} characters long (at most ${maxNameLength})`);
  }
  return withTagAndDigest({ registry, repository }, tag, digest);
}

/** Splits off `@digest` (first `@`) and `:tag` (last `:` after the last `/`), validating both. */
function splitTagAndDigest(input: string): { name: string; tag?: string; digest?: string } {
  let name = input;
  let digest: string | undefined;
  const at = input.indexOf('@');
  if (at >= 0) {
    digest = parseDigestPart(input, input.slice(at + 1));
    name = input.slice(0, at);
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  // A bare `[::1]` ends in "]": its colons belong to the address, not to a tag.
  if (colon > name.lastIndexOf('/') && !name.endsWith(']')) {
    tag = parseTagPart(input, name.slice(colon + 1));
    name = name.slice(0, colon);
  }
  return withTagAndDigest({ name }, tag, digest);
}

function parseDigestPart(input: string, digest: string): string {
  if (digest === '') throw invalid(input, '"@" is not followed by a digest');
  try {
    parseDigest(digest);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw invalid(input, reason, cause);
  }
  return digest;
}

function parseTagPart(input: string, tag: string): string {
  if (tag === '') throw invalid(input, 'tag is empty (remove the trailing ":")');
  if (!tagPattern.test(tag)) {
    const reason =
      tag.length > 128
        ? `is ${tag.length} characters long (at most 128)`
        : 'may hold only letters, digits, "_", "." and "-", and may not start with "." or "-"';
    throw invalid(input, `tag ${JSON.stringify(tag)} is invalid: ${reason}`);
  }
  return tag;
}

/** Splits `host/path` by Docker's rule for telling a host from a Docker Hub namespace. */
function splitHost(input: string, name: string): { host?: string; path: string } {
  const slash = name.indexOf('/');
  if (slash < 0) {
    if (name.startsWith('[')) throw invalid(input, `registry ${JSON.stringify(name)} has no repository`);
    return { path: name };
  }
  const first = name.slice(0, slash);
  const path = name.slice(slash + 1);
  if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
    return { host: first, path };
  }
  return { path: name };
}

/**
 * Validates `host[:port]` (domain name, IPv4, or bracketed IPv6) and returns the registry name, mapping Docker Hub
 * aliases to `docker.io`. Upper case is refused: DNS is case-insensitive, but docker-config keys and the plain-HTTP
 * check compare strings, so accepting `Ghcr.io` would quietly miss credentials stored for `ghcr.io`.
 */
function parseHost(input: string, host: string): string {
  const bad = (reason: string): LadingError => invalid(input, `registry ${JSON.stringify(host)} ${reason}`);
  if (host !== host.toLowerCase()) {
    throw bad(`must be lower case (use ${JSON.stringify(host.toLowerCase())})`);
  }
  let name: string;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) throw bad('has no closing "]"');
    const address = host.slice(1, close);
    // Zones (`%eth0`) have no meaning in a registry name and are not in the grammar.
    if (!isIPv6(address) || address.includes('%')) throw bad(`holds ${JSON.stringify(address)}, not an IPv6 address`);
    const rest = host.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw bad('has characters after "]" that are not a port');
    name = host.slice(0, close + 1);
    if (rest !== '') port = rest.slice(1);
  } else {
    const parts = host.split(':');
    if (parts.length > 2) throw bad('has more than one ":"; write IPv6 addresses in brackets, e.g. "[::1]:5000"');
    name = parts[0] ?? '';
    port = parts[1];
    checkDomain(name, bad);
  }
  if (port !== undefined) checkPort(port, bad);
  if (port === undefined && dockerHubNames.has(name)) return DockerHub.registry;
  return host;
}

function checkDomain(name: string, bad: (reason: string) => LadingError): void {
  const labels = name.split('.');
  if (name === '' || !labels.every((label) => domainComponent.test(label))) {
    throw bad('is not a valid host name (letters, digits and "-" in dot-separated labels)');
  }
  if (labels.every((label) => /^\d+$/.test(label)) && !isIPv4(name)) throw bad('is not a valid IPv4 address');
}

function checkPort(port: string, bad: (reason: string) => LadingError): void {
  if (port === '') throw bad('has an empty port');
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw bad(`has an invalid port ${JSON.stringify(port)} (1 to 65535)`);
  }
}

/** Docker Hub's official images live under `library/`. */
function dockerHubPath(path: string): string {
  return path !== '' && !path.includes('/') ? `library/${path}` : path;
}

function parseRepository(input: string, repository: string): string {
  const bad = (reason: string): LadingError => invalid(input, `repository ${JSON.stringify(repository)} ${reason}`);
  if (repository === '') throw invalid(input, 'repository is empty');
  const components = repository.split('/');
  if (components.includes('')) throw bad('has an empty path component (leading, trailing or double "/")');
  for (const component of components) {
    if (pathComponent.test(component)) continue;
    if (pathComponent.test(component.toLowerCase())) throw bad('must be lower case');
    throw bad(
      `has an invalid path component ${JSON.stringify(component)}: use lower-case letters and digits, ` +
        'separated by ".", "_", "__" or "-"',
    );
  }
  return repository;
}

/** Adds `tag` and `digest` only when defined (exactOptionalPropertyTypes). */
function withTagAndDigest<T extends object>(
  base: T,
  tag: string | undefined,
  digest: string | undefined,
): T & { tag?: string; digest?: string } {
  return { ...base, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/**
 * Formats a reference in its normalised, fully qualified form (`docker.io/library/ubuntu:24.04@sha256:…`), which
 * {@link parseReference} reads back to an equal reference. The tag comes before the digest when both are present.
 */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${suffix(ref)}`;
}

function suffix(ref: { tag?: string; digest?: string }): string {
  return `${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/**
 * Parses a target: `oci:<dir>[:tag][@digest]` is a local OCI image layout, anything else a registry reference
 * ({@link parseReference}).
 *
 * Layout syntax: the tag and digest are looked for only after the last `/`, the digest starting at the first `@`
 * there and the tag at the last `:` before it. So `oci:./out:v1` is directory `./out` at tag `v1`, and
 * `oci:/data/a:b/c` is directory `/data/a:b/c` with no tag. A directory whose last component itself contains `:` or
 * `@` is written with a trailing `/`: `oci:./a:b/` (no tag) or `oci:./a:b/:v1` (tag `v1`). The `oci:` prefix always
 * means a layout, so a registry host literally named `oci` cannot be addressed through this function.
 *
 * Throws `ERR_LADING_INVALID_REFERENCE` naming the bad part and the whole input.
 */
export function parseTarget(input: string): TargetReference {
  if (!input.startsWith(layoutPrefix)) return { kind: 'registry', ...parseReference(input) };
  const rest = input.slice(layoutPrefix.length);
  const lastSlash = rest.lastIndexOf('/');
  const dir = rest.slice(0, lastSlash + 1);
  let last = rest.slice(lastSlash + 1);
  let digest: string | undefined;
  const at = last.indexOf('@');
  if (at >= 0) {
    digest = parseDigestPart(input, last.slice(at + 1));
    last = last.slice(0, at);
  }
  let tag: string | undefined;
  const colon = last.lastIndexOf(':');
  if (colon >= 0) {
    tag = parseTagPart(input, last.slice(colon + 1));
    last = last.slice(0, colon);
  }
  const path = dir + last;
  if (path === '') throw invalid(input, `layout directory is empty (write "${layoutPrefix}<dir>[:tag|@digest]")`);
  return withTagAndDigest({ kind: 'layout' as const, path }, tag, digest);
}

/**
 * Formats a target so that {@link parseTarget} reads it back: registry references as {@link formatReference},
 * layouts as `oci:<dir>[:tag][@digest]`, adding a trailing `/` when the directory's last component contains `:` or
 * `@` (see {@link parseTarget}).
 */
export function formatTarget(target: TargetReference): string {
  if (target.kind === 'registry') return formatReference(target);
  const last = target.path.slice(target.path.lastIndexOf('/') + 1);
  const dir = /[:@]/.test(last) ? `${target.path}/` : target.path;
  return `${layoutPrefix}${dir}${suffix(target)}`;
}

/**
 * The `host[:port]` to connect to for `registry`: `registry-1.docker.io` for Docker Hub (`docker.io` and its aliases),
 * the registry itself otherwise.
 */
export function dialHost(registry: string): string {
  return dockerHubAliases.has(registry) ? DockerHub.host : registry;
}

/**
 * The key credentials for `registry` are stored under in a docker config and asked of credential helpers:
 * `https://index.docker.io/v1/` for Docker Hub (`docker.io` and its aliases), the registry (`host[:port]`) otherwise.
 */
export function credentialKey(registry: string): string {
  return dockerHubAliases.has(registry) ? DockerHub.credentialKey : registry;
}

/** Loopback addresses: all of 127.0.0.0/8 and ::1 (any spelling). */
const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/**
 * True when lading talks plain HTTP to `registry` unless told otherwise: `localhost`, any 127.0.0.0/8 address and
 * `[::1]`, with or without a port (as oras does). False for every other host, including private-network addresses:
 * plain HTTP elsewhere must be asked for explicitly.
 */
export function plainHTTPByDefault(registry: string): boolean {
  const host = hostWithoutPort(registry);
  if (host === 'localhost') return true;
  if (isIPv4(host)) return loopback.check(host, 'ipv4');
  if (isIPv6(host)) return loopback.check(host, 'ipv6');
  return false;
}

/** `example.com:5000` → `example.com`; `[::1]:5000` → `::1`. */
function hostWithoutPort(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, Math.max(registry.indexOf(']'), 1));
  const colon = registry.indexOf(':');
  return colon < 0 ? registry : registry.slice(0, colon);
}
