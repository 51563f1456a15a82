/**
 * The registry client of a configured run: each registry dialled with its own transport settings from the
 * configuration file (plain HTTP, CA, client certificate), and, for read commands, a registry's mirror read first.
 */
import {
  type CallOptions,
  type Descriptor,
  ErrorCodes,
  type FetchedManifest,
  LadingError,
  parseReference,
  type RangeResult,
  type Reference,
  RegistryClient,
  type RegistryClientOptions,
  type RemoteReferrersOptions,
  RemoteRepository,
  type RemoteRepositoryOptions,
} from '@lading/core';

/** A registry to read from first: its `host[:port]` and the path prefixed to repository names there. */
export interface MirrorSpec {
  registry: string;
  /** Prefix of repository names on the mirror (`cache` makes `acme/app` read as `cache/acme/app`). Default none. */
  prefix?: string;
}

/** Parses a file's `mirror` value: `host[:port]` with an optional `/path` prefix. */
export function parseMirror(value: string): MirrorSpec {
  const slash = value.indexOf('/');
  if (slash < 0) return { registry: value };
  const prefix = value.slice(slash + 1).replace(/\/+$/, '');
  return prefix === '' ? { registry: value.slice(0, slash) } : { registry: value.slice(0, slash), prefix };
}

/** Options of {@link ConfiguredRegistryClient}. */
export interface ConfiguredClientOptions {
  /** Options for every registry without its own entry (and the base of those with one). */
  base: RegistryClientOptions;
  /**
   * The options of a registry that has its own (replacing `base`), or undefined for `base`. Called once per
   * registry, when it is first dialled; may throw (a CA file that cannot be read).
   */
  optionsFor?: (registry: string) => RegistryClientOptions | undefined;
  /** Mirrors per registry host; only given for read commands. */
  mirrors?: ReadonlyMap<string, MirrorSpec>;
  /**
   * Called when a read falls back from a mirror to the registry: `reason` says why (not found there, unreachable,
   * refused). The CLI prints it. Default: nothing.
   */
  onFallback?: (event: { mirror: string; registry: string; reason: string; down: boolean }) => void;
}

/**
 * A {@link RegistryClient} whose repositories use their registry's own transport settings, and for registries
 * with a mirror, a {@link MirroredRepository}. One client per distinct transport setting is built lazily; all are
 * closed by {@link close}.
 */
export class ConfiguredRegistryClient extends RegistryClient {
  private readonly configured: ConfiguredClientOptions;
  private readonly clients = new Map<string, RegistryClient | undefined>();
  private readonly down = new Set<string>();

  constructor(options: ConfiguredClientOptions) {
    super(options.base);
    this.configured = options;
  }

  /** The repository in its registry's client; wrapped to read from the registry's mirror first, when it has one. */
  override repository(reference: string | Reference): RemoteRepository {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    const origin = this.plainRepository(ref);
    const mirror = this.configured.mirrors?.get(ref.registry);
    if (mirror === undefined || mirror.registry === ref.registry) return origin;
    const name = mirror.prefix === undefined ? ref.repository : `${mirror.prefix}/${ref.repository}`;
    const onMirror = this.plainRepository({ ...ref, registry: mirror.registry, repository: name });
    return new MirroredRepository(this.optionsFor(ref.registry), origin, onMirror, {
      isDown: () => this.down.has(mirror.registry),
      markDown: () => this.down.add(mirror.registry),
      ...(this.configured.onFallback && { onFallback: this.configured.onFallback }),
    });
  }

  override async close(): Promise<void> {
    const own = [...this.clients.values()].filter((c): c is RegistryClient => c !== undefined);
    await Promise.all(own.map((c) => c.close()));
    await super.close();
  }

  private optionsFor(registry: string): RemoteRepositoryOptions {
    const client = this.clientFor(registry);
    return { http: client.http, registry, repository: '' };
  }

  private plainRepository(ref: Reference): RemoteRepository {
    const client = this.clientFor(ref.registry);
    return client === this ? super.repository(ref) : client.repository(ref);
  }

  private clientFor(registry: string): RegistryClient {
    if (!this.clients.has(registry)) {
      const own = this.configured.optionsFor?.(registry);
      this.clients.set(registry, own === undefined ? undefined : new RegistryClient(own));
    }
    return this.clients.get(registry) ?? this;
  }
}

/** How a {@link MirroredRepository} shares the mirror's state with its client. */
interface MirrorState {
  isDown(): boolean;
  markDown(): void;
  onFallback?: ConfiguredClientOptions['onFallback'];
}

/**
 * A repository read from a mirror first: manifests, blobs, ranges, tag resolution and referrers come from the
 * mirror when it has them, else from the registry. Everything read is checked against its digest as usual, so a
 * mirror can withhold content but not change what a digest names; a tag resolves to what the mirror says when it
 * has the tag (pin a digest, or verify signatures, to be independent of a mirror's freshness). A mirror that cannot
 * be reached is not asked again in this run. Writes (push, tag, delete) go to the registry only.
 *
 * A blob stream that fails after the mirror started sending it fails the read: there is no fallback in the middle
 * of a stream.
 */
export class MirroredRepository extends RemoteRepository {
  private readonly origin: RemoteRepository;
  private readonly mirror: RemoteRepository;
  private readonly state: MirrorState;

  constructor(
    options: RemoteRepositoryOptions,
    origin: RemoteRepository,
    mirror: RemoteRepository,
    state: MirrorState,
  ) {
    super({ ...options, registry: origin.registry, repository: origin.repository });
    this.origin = origin;
    this.mirror = mirror;
    this.state = state;
  }

  /**
   * The registry's own repository, without the mirror: what a write target must be opened as (`copy`'s
   * destination), since whether the mirror holds something says nothing about whether the registry does.
   */
  registryRepository(): RemoteRepository {
    return this.origin;
  }

  override exists(desc: Descriptor, options?: CallOptions): Promise<boolean> {
    return this.read(
      `blob ${desc.digest}`,
      (m) => m.exists(desc, options),
      () => this.origin.exists(desc, options),
      (found) => !found,
      options,
    );
  }

  override fetch(desc: Descriptor, options?: CallOptions): Promise<AsyncIterable<Uint8Array>> {
    return this.read(
      desc.digest,
      (m) => m.fetch(desc, options),
      () => this.origin.fetch(desc, options),
      undefined,
      options,
    );
  }

  override fetchRange(desc: Descriptor, offset: number, length: number, options?: CallOptions): Promise<RangeResult> {
    return this.read(
      desc.digest,
      (m) => m.fetchRange(desc, offset, length, options),
      () => this.origin.fetchRange(desc, offset, length, options),
      undefined,
      options,
    );
  }

  override resolve(reference: string, options?: CallOptions): Promise<Descriptor> {
    return this.read(
      reference,
      (m) => m.resolve(reference, options),
      () => this.origin.resolve(reference, options),
      undefined,
      options,
    );
  }

  override fetchManifest(reference: string, options?: CallOptions & { mediaType?: string }): Promise<FetchedManifest> {
    return this.read(
      reference,
      (m) => m.fetchManifest(reference, options),
      () => this.origin.fetchManifest(reference, options),
      undefined,
      options,
    );
  }

  override referrers(subject: Descriptor, options?: RemoteReferrersOptions): Promise<Descriptor[]> {
    return this.read(
      `referrers of ${subject.digest}`,
      (m) => m.referrers(subject, options),
      () => this.origin.referrers(subject, options),
      (list) => list.length === 0,
      options,
    );
  }

  /**
   * `fromMirror`, unless the mirror is down; then, or when it fails with not found, auth, network, protocol or
   * integrity (or `missing` says the answer is a miss), `fromOrigin`. An abort is never a reason to fall back.
   */
  private async read<R>(
    what: string,
    fromMirror: (mirror: RemoteRepository) => Promise<R>,
    fromOrigin: () => Promise<R>,
    missing: ((result: R) => boolean) | undefined,
    options: CallOptions | undefined,
  ): Promise<R> {
    if (this.state.isDown()) return fromOrigin();
    let reason: string;
    let down = false;
    try {
      const result = await fromMirror(this.mirror);
      if (missing === undefined || !missing(result)) return result;
      reason = `${what}: not there`;
    } catch (error) {
      if (options?.signal?.aborted === true || !(error instanceof LadingError)) throw error;
      if (error.code === ErrorCodes.network) {
        down = true;
        this.state.markDown();
      } else if (
        error.code !== ErrorCodes.notFound &&
        error.code !== ErrorCodes.auth &&
        error.code !== ErrorCodes.protocol &&
        error.code !== ErrorCodes.integrity
      ) {
        throw error;
      }
      reason = error.message;
    }
    this.state.onFallback?.({ mirror: this.mirror.registry, registry: this.origin.registry, reason, down });
    return fromOrigin();
  }
}
