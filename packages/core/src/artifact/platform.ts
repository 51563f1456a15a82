/**
 * Multi-platform artifacts: from an image index (or Docker manifest list) to the one platform manifest a read uses,
 * chosen the way `oras pull --platform` and `docker pull --platform` choose, and fetched digest-checked through the
 * chain of indexes that pins it.
 * https://github.com/opencontainers/image-spec/blob/main/image-index.md
 */
import { arch, endianness, platform as hostOS } from 'node:os';

import type { CallOptions, GraphTarget } from '../content.js';
import { parseManifest, type Descriptor, type ImageManifest, type Platform } from '../descriptor.js';
import { fetchAll } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import { IndexMediaTypes, ManifestMediaTypes } from '../media-types.js';

/** Levels of image indexes followed from the reference to a platform manifest, the top one included. */
export const MaxIndexDepth = 4;

/**
 * Manifests an operation over every manifest of an index handles at most, the index's own included: what
 * `signArtifact` with `recursive` signs, and what a copy with referrers looks up signatures of (a hostile index
 * cannot make either go on without end). 256, far above the platforms of real multi-platform images.
 */
export const MaxRecursiveManifests = 256;

/** Nested indexes read in all while looking for platform manifests (bounds what a hostile index can cost). */
export const MaxNestedIndexes = 32;

/**
 * Parses `os/arch[/variant]` (what `--platform` takes in oras and docker) into an OCI platform, normalised as
 * containerd does: `x86_64` → `amd64`, `aarch64` → `arm64` (variant `v8` dropped), `armhf` → `arm/v7`, `armel` →
 * `arm/v6`, `i386` → `386`, `macos` → `darwin`, all lower-case. `ERR_LADING_USAGE` for anything else.
 */
export function parsePlatform(text: string, flag = '--platform'): Platform {
  const parts = text.trim().toLowerCase().split('/');
  const valid = /^[a-z0-9][a-z0-9._-]*$/;
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => valid.test(p))) {
    throw new LadingError(
      ErrorCodes.usage,
      `${flag} ${JSON.stringify(text)}: not a platform; write os/arch[/variant], e.g. linux/amd64 or linux/arm/v7`,
    );
  }
  const [os = '', architecture = '', variant] = parts;
  return normalizePlatform(variant === undefined ? { os, architecture } : { os, architecture, variant });
}

/** `os/arch[/variant]`, as `--platform` takes it; `unknown` parts for a missing platform. */
export function formatPlatform(platform: Platform | undefined): string {
  if (!platform) return 'no platform';
  const base = `${platform.os || 'unknown'}/${platform.architecture || 'unknown'}`;
  return platform.variant ? `${base}/${platform.variant}` : base;
}

/** The platform with architecture and variant spelled the OCI way (see {@link parsePlatform}). */
function normalizePlatform(p: Platform): Platform {
  let os = p.os.toLowerCase();
  if (os === 'macos') os = 'darwin';
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  switch (architecture) {
    case 'x86_64':
    case 'x86-64':
      architecture = 'amd64';
      break;
    case 'i386':
    case 'i686':
      architecture = '386';
      break;
    case 'aarch64':
      architecture = 'arm64';
      break;
    case 'armhf':
      architecture = 'arm';
      variant ??= 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant ??= 'v6';
      break;
  }
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'arm' && variant !== undefined && /^[5-8]$/.test(variant)) variant = `v${variant}`;
  const out: Platform = { os, architecture };
  if (variant) out.variant = variant;
  return out;
}

/** Node's names for operating systems that Go (and so OCI) spells differently. */
const osNames: Readonly<Record<string, string>> = { win32: 'windows', sunos: 'solaris' };

/** Node's names for architectures that Go (and so OCI) spells differently. */
const archNames: Readonly<Record<string, string>> = { x64: 'amd64', ia32: '386', mipsel: 'mipsle' };

/**
 * The platform this process runs on, in OCI terms: Node's `process.platform`/`process.arch` mapped to Go's GOOS
 * and GOARCH (`win32` → `windows`, `x64` → `amd64`, `ia32` → `386`, little-endian `ppc64` → `ppc64le`…), with the
 * ARM variant Node was built for (`v6`, `v7`) on 32-bit ARM.
 */
export function hostPlatform(): Platform {
  const nodeOS = hostOS();
  const nodeArch = arch();
  const os = osNames[nodeOS] ?? nodeOS;
  let architecture = archNames[nodeArch] ?? nodeArch;
  if (nodeArch === 'ppc64' && endianness() === 'LE') architecture = 'ppc64le';
  const out: Platform = { os, architecture };
  if (nodeArch === 'arm') {
    const version = (process.config.variables as { arm_version?: unknown }).arm_version;
    if (typeof version === 'string' && /^[5-8]$/.test(version)) out.variant = `v${version}`;
  }
  return out;
}

/** The variant an architecture has when the index entry names none (containerd's defaults). */
function effectiveVariant(p: Platform): string | undefined {
  if (p.variant) return p.variant;
  return p.architecture === 'arm' ? 'v7' : undefined;
}

/**
 * Whether an index entry's platform `have` satisfies the requested `want`: same OS and architecture (after
 * normalisation), and the same variant when `want` names one. `os.version` and `os.features` are not compared.
 */
function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have?.os || !have.architecture) return false;
  const got = normalizePlatform(have);
  if (got.os !== want.os || got.architecture !== want.architecture) return false;
  return want.variant === undefined || effectiveVariant(got) === effectiveVariant(want);
}

/** A manifest or nested index an index lists, directly or through nested indexes. */
export interface IndexEntry {
  /** Its descriptor, as the index that lists it gives it (pinned by digest). */
  descriptor: Descriptor;
  /** Its platform: the entry's own, else that of the nested index entry it came through. */
  platform?: Platform;
  /** True for a nested index (listed before the entries it holds). */
  index: boolean;
}

/** Buildx attestation manifests and other entries that are not for a platform (`unknown/unknown`). */
function isPlatformless(entry: IndexEntry): boolean {
  const p = entry.platform;
  return !p?.os || !p.architecture || p.os === 'unknown' || p.architecture === 'unknown';
}

/**
 * Every manifest and nested index that `manifests` (an index's entries) lists, in index order, descending into
 * nested indexes — each read digest-checked — up to {@link MaxIndexDepth} levels and {@link MaxNestedIndexes} of
 * them (`ERR_LADING_PROTOCOL` beyond); an entry without a platform inherits that of the nested index entry it came
 * through. Entries that are neither (a blob, an unknown type) are skipped. A digest listed twice appears twice.
 */
export function indexEntries(
  target: GraphTarget,
  manifests: readonly Descriptor[],
  where: string,
  call: CallOptions = {},
): Promise<IndexEntry[]> {
  return walkIndex(target, manifests, where, call);
}

async function walkIndex(
  target: GraphTarget,
  manifests: readonly Descriptor[],
  where: string,
  call: CallOptions,
  depth = 1,
  budget = { nested: 0 },
  inherited?: Platform,
): Promise<IndexEntry[]> {
  const out: IndexEntry[] = [];
  for (const entry of manifests) {
    const platform = entry.platform ?? inherited;
    if (IndexMediaTypes.includes(entry.mediaType)) {
      if (depth >= MaxIndexDepth) {
        throw new LadingError(
          ErrorCodes.protocol,
          `${where}: image indexes nest more than ${MaxIndexDepth} levels deep (at ${entry.digest})`,
        );
      }
      if (++budget.nested > MaxNestedIndexes) {
        throw new LadingError(
          ErrorCodes.protocol,
          `${where}: the index lists more than ${MaxNestedIndexes} nested indexes`,
        );
      }
      const bytes = await fetchAll(target, entry, `${where}: nested index ${entry.digest}`, call);
      const parsed = parseManifest(bytes, entry.mediaType, `${where}: nested index ${entry.digest}`);
      if (parsed.kind !== 'index') {
        throw new LadingError(
          ErrorCodes.protocol,
          `${where}: ${entry.digest} is listed as an index (${entry.mediaType}) but is a manifest`,
        );
      }
      out.push(platform ? { descriptor: entry, platform, index: true } : { descriptor: entry, index: true });
      out.push(...(await walkIndex(target, parsed.index.manifests, where, call, depth + 1, budget, platform)));
    } else if (ManifestMediaTypes.includes(entry.mediaType)) {
      out.push(platform ? { descriptor: entry, platform, index: false } : { descriptor: entry, index: false });
    }
    // Anything else an index may list (a blob, an unknown type) is not a manifest to read: skipped.
  }
  return out;
}

function describeEntries(entries: readonly IndexEntry[]): string {
  return entries.map((e) => `${formatPlatform(e.platform)} (${e.descriptor.digest})`).join(', ');
}

/** What {@link resolvePlatformManifest} chose, and the index it came from. */
export interface PlatformManifest {
  /** The platform manifest's descriptor, from the index that lists it: every later read is pinned to its digest. */
  descriptor: Descriptor;
  /** Its bytes, verified against `descriptor.digest`. */
  bytes: Uint8Array;
  manifest: ImageManifest;
  /** The platform the index gives it; absent when the index's only manifest names none. */
  platform?: Platform;
}

/**
 * Chooses one platform manifest of the image index `index` (already digest-checked) and fetches it, digest-checked
 * and size-capped. Nested indexes are followed up to {@link MaxIndexDepth} levels (at most {@link MaxNestedIndexes}
 * of them); an entry without a platform inherits that of the nested index entry it came through. With
 * `requested` (`os/arch[/variant]`): the manifest whose platform matches (a variant-less request matches any
 * variant, but an exact match wins). Without: the index's only manifest when it lists one, else the one for
 * {@link hostPlatform}. No match, or several equally good, is `ERR_LADING_USAGE` listing the platforms the index
 * has and saying to pass `--platform`.
 */
export async function resolvePlatformManifest(
  target: GraphTarget,
  index: { descriptor: Descriptor; manifests: readonly Descriptor[] },
  display: string,
  options: CallOptions & { platform?: string } = {},
): Promise<PlatformManifest> {
  const where = `read ${display}`;
  const call: CallOptions = options.signal ? { signal: options.signal } : {};
  const want = options.platform === undefined ? undefined : parsePlatform(options.platform);
  const entries = (await indexEntries(target, index.manifests, where, call)).filter((e) => !e.index);
  const candidates = entries.filter((e) => !isPlatformless(e));
  const listing = candidates.length > 0 ? describeEntries(candidates) : 'none with a platform';
  let chosen: IndexEntry | undefined;
  if (want === undefined && entries.length === 1) {
    chosen = entries[0];
  } else {
    const goal = want ?? hostPlatform();
    const why = want === undefined ? `this machine's platform ${formatPlatform(goal)}` : formatPlatform(goal);
    const matches = candidates.filter((e) => platformMatches(goal, e.platform));
    const exact = matches.filter((e) => {
      const p = e.platform ? normalizePlatform(e.platform) : undefined;
      return p?.variant === goal.variant;
    });
    if (matches.length === 1) chosen = matches[0];
    else if (exact.length === 1) chosen = exact[0];
    else if (matches.length === 0) {
      throw new LadingError(
        ErrorCodes.usage,
        `${where}: image index ${index.descriptor.digest} has no manifest for ${why}; it has ${listing}; choose one with --platform os/arch[/variant]`,
      );
    } else {
      throw new LadingError(
        ErrorCodes.usage,
        `${where}: image index ${index.descriptor.digest} has several manifests for ${why}: ${describeEntries(matches)}; choose one with --platform os/arch/variant, or name it by digest`,
      );
    }
  }
  if (!chosen) {
    throw new LadingError(ErrorCodes.usage, `${where}: image index ${index.descriptor.digest} lists no manifest`);
  }
  const manifestWhere = `${where}: platform manifest ${chosen.descriptor.digest}`;
  const bytes = await fetchAll(target, chosen.descriptor, manifestWhere, call);
  const parsed = parseManifest(bytes, chosen.descriptor.mediaType, manifestWhere);
  if (parsed.kind !== 'manifest') {
    throw new LadingError(ErrorCodes.protocol, `${manifestWhere}: listed as a manifest but is an index`);
  }
  const out: PlatformManifest = { descriptor: chosen.descriptor, bytes, manifest: parsed.manifest };
  if (chosen.platform) out.platform = chosen.platform;
  return out;
}
