// The listeners and the per-request pipeline: log → strict mode → faults → auth → route → send (body faults).

import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { requireBasicAuth } from './auth.js';
import { API_VERSION, DEFAULT_MAX_MANIFEST_BYTES, Header, MediaType } from './constants.js';
import type { RegistryContext, RegistrySettings } from './context.js';
import { sha256Digest } from './digest.js';
import { RegistryError } from './errors.js';
import { type FiredFault, FaultSet, answersInstead, faultReply } from './faults.js';
import { type Listener, type RegistryRequest, type Reply, type RequestInfo, errorReply, readBody } from './http.js';
import { referrersOf } from './listing.js';
import { RequestLog, type MutableRecord } from './log.js';
import type { Descriptor } from './manifest.js';
import { dispatch } from './router.js';
import { sendReply } from './send.js';
import { storageHandler } from './storage.js';
import { MemoryStore } from './store.js';
import { StrictGate } from './strict.js';
import type { FakeRegistry, FakeRegistryOptions, PutManifestOptions } from './types.js';

type Handle = (req: RegistryRequest) => Reply | Promise<Reply>;

interface Pipeline {
  readonly listener: Listener;
  readonly log: RequestLog;
  readonly gate: StrictGate;
  readonly faults: FaultSet;
  readonly handle: Handle;
  /** Headers added to every reply of this listener. */
  readonly headers: Readonly<Record<string, string>>;
}

function requestInfo(listener: Listener, req: IncomingMessage): RequestInfo {
  const url = new URL(req.url ?? '/', 'http://fake-registry.invalid');
  return {
    listener,
    method: (req.method ?? 'GET').toUpperCase(),
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
  };
}

function strictReply(info: RequestInfo): Reply {
  return errorReply(
    new RegistryError(500, 'UNKNOWN', `fake registry strict mode: unexpected request ${info.method} ${info.path}`),
  );
}

function toReply(error: unknown): Reply {
  if (error instanceof RegistryError) return errorReply(error);
  return errorReply(new RegistryError(500, 'UNKNOWN', `fake registry bug: ${String(error)}`));
}

/** Reads and discards what is left of a request body, so the client is not cut off mid-upload. */
async function drain(req: IncomingMessage, record: MutableRecord): Promise<void> {
  if (req.readableEnded) return;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) record.bytesIn += chunk.length;
  } catch {
    // The client went away; nothing to answer.
  }
}

/** Decides the reply and which body fault (if any) applies to it. */
async function decide(
  pipeline: Pipeline,
  info: RequestInfo,
  request: RegistryRequest,
  record: MutableRecord,
): Promise<{ reply: Reply; fault?: FiredFault }> {
  if (!pipeline.gate.admit(info)) {
    record.unexpected = true;
    return { reply: strictReply(info) };
  }
  const fault = pipeline.faults.take(info);
  if (fault) record.fault = { id: fault.id, kind: fault.action.kind };
  if (fault && answersInstead(fault.action)) return { reply: faultReply(fault.action) };
  try {
    const reply = await pipeline.handle(request);
    return fault ? { reply, fault } : { reply };
  } catch (error) {
    return fault ? { reply: toReply(error), fault } : { reply: toReply(error) };
  }
}

async function serve(pipeline: Pipeline, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const info = requestInfo(pipeline.listener, req);
  const record = pipeline.log.begin(info);
  try {
    await answer(pipeline, req, res, info, record);
  } finally {
    pipeline.log.end();
  }
}

async function answer(
  pipeline: Pipeline,
  req: IncomingMessage,
  res: ServerResponse,
  info: RequestInfo,
  record: MutableRecord,
): Promise<void> {
  const request: RegistryRequest = {
    ...info,
    body: (limit, tooLarge) =>
      readBody(
        req,
        (n) => {
          record.bytesIn += n;
        },
        limit,
        tooLarge,
      ),
  };
  const { reply, fault } = await decide(pipeline, info, request, record);
  await drain(req, record);
  Object.assign(reply.headers, pipeline.headers);
  try {
    record.status = await sendReply(res, info.method, reply, fault?.action, (n) => {
      pipeline.log.served(record, n, reply.blob);
    });
  } catch {
    // The client closed the connection while we wrote; the record keeps the bytes that made it.
    record.status = res.headersSent ? reply.status : 0;
  }
}

async function listen(pipeline: Pipeline): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    serve(pipeline, req, res).catch(() => {
      // Only a request the pipeline cannot even parse gets here: drop it rather than crash the test process.
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

function checkSize(value: number | undefined, name: string, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw new TypeError(`startFakeRegistry: options.${name} must be an integer >= ${min}, got ${value}`);
  }
}

function settingsFrom(options: FakeRegistryOptions): RegistrySettings {
  checkSize(options.referrersPageSize, 'referrersPageSize', 0);
  checkSize(options.tagsPageSize, 'tagsPageSize', 0);
  checkSize(options.chunkMinLength, 'chunkMinLength', 1);
  checkSize(options.maxManifestBytes, 'maxManifestBytes', 1);
  if (options.auth && (options.auth.username === '' || options.auth.username.includes(':'))) {
    throw new TypeError('startFakeRegistry: options.auth.username must be non-empty and contain no colon');
  }
  return {
    referrersAPI: options.referrersAPI ?? true,
    referrersPageSize: options.referrersPageSize ?? 0,
    tagsPageSize: options.tagsPageSize ?? 0,
    conditionalPut: options.conditionalPut ?? true,
    rangeRequests: options.rangeRequests ?? true,
    subjectHeader: options.ociSubjectHeader ?? 'when-referrers',
    chunkMinLength: options.chunkMinLength,
    maxManifestBytes: options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES,
    deleteEnabled: options.deleteEnabled ?? true,
    storageURL: undefined,
  };
}

function manifestBytes(manifest: object | Uint8Array | string): Uint8Array {
  if (manifest instanceof Uint8Array) return manifest;
  return Buffer.from(typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
}

function seededMediaType(bytes: Uint8Array, options: PutManifestOptions): string {
  if (options.mediaType !== undefined) return options.mediaType;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    const mediaType = (parsed as { mediaType?: unknown } | null)?.mediaType;
    if (typeof mediaType === 'string') return mediaType;
  } catch {
    // Not JSON: fall through to the default.
  }
  return MediaType.ociManifest;
}

/**
 * Starts a fake OCI registry on 127.0.0.1 (port 0), plus a blob storage listener when `redirectBlobs` is set.
 * See {@link FakeRegistryOptions} for the defaults and {@link FakeRegistry} for the controls. Call `close()` when
 * done (at the end of each test file).
 */
export async function startFakeRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const settings = settingsFrom(options);
  const store = new MemoryStore();
  const ctx: RegistryContext = { store, settings };
  const log = new RequestLog();
  const gate = new StrictGate();
  const faults = new FaultSet();
  const authorizations: string[] = [];
  const shared = { log, gate, faults };

  const registry = await listen({
    ...shared,
    listener: 'registry',
    headers: { [Header.apiVersion]: API_VERSION },
    handle: (req) => {
      requireBasicAuth(req.headers, options.auth);
      return dispatch(ctx, req);
    },
  });
  const storage = options.redirectBlobs
    ? await listen({ ...shared, listener: 'storage', headers: {}, handle: storageHandler(store, authorizations) })
    : undefined;
  if (storage) settings.storageURL = `http://127.0.0.1:${storage.port}`;

  const host = `127.0.0.1:${registry.port}`;
  const storageURL = settings.storageURL;
  return {
    url: `http://${host}`,
    host,
    storage:
      storageURL === undefined
        ? undefined
        : {
            url: storageURL,
            get authorizations() {
              return [...authorizations];
            },
          },
    close: async () => {
      await Promise.all([registry.server, ...(storage ? [storage.server] : [])].map(closeServer));
    },
    setReferrersAPI: (enabled) => {
      settings.referrersAPI = enabled;
    },
    setConditionalPut: (enabled) => {
      settings.conditionalPut = enabled;
    },
    setRangeRequests: (enabled) => {
      settings.rangeRequests = enabled;
    },
    inject: (rule) => faults.add(rule),
    clearFaults: () => {
      faults.clear();
    },
    expect: (...expectations) => {
      gate.expect(expectations);
    },
    assertNoUnexpected: () => {
      gate.assertNoUnexpected();
    },
    clearExpectations: () => {
      gate.clear();
    },
    get unexpected() {
      return gate.unexpected;
    },
    get requests() {
      return log.list();
    },
    get bytesServed() {
      return log.bytesServed;
    },
    blobBytesServed: (digest) => log.blobBytesServed(digest),
    clearLog: () => {
      log.clear();
    },
    putBlob: (repository, content, mediaType = MediaType.octetStream): Descriptor => {
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      const digest = sha256Digest(bytes);
      store.putBlob(repository, digest, bytes);
      return { mediaType, digest, size: bytes.length };
    },
    putManifest: (repository, manifest, putOptions = {}): Descriptor => {
      const bytes = manifestBytes(manifest);
      const mediaType = seededMediaType(bytes, putOptions);
      const digest = sha256Digest(bytes);
      store.putManifest(repository, { digest, mediaType, bytes }, putOptions.tag);
      return { mediaType, digest, size: bytes.length };
    },
    getBlob: (repository, digest) => store.getBlob(repository, digest),
    getManifest: (repository, reference) => store.getManifest(repository, reference),
    tags: (repository) => store.listTags(repository),
    referrers: (repository, digest) => referrersOf(store, repository, digest),
  };
}
