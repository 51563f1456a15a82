import { RegistryClient, descriptorFor, packManifest, type Descriptor, type RegistryClientOptions } from '@lading/core';

/** A random blob of `size` bytes and its descriptor. */
export function randomBlob(size: number, mediaType = 'application/octet-stream'): { bytes: Buffer; desc: Descriptor } {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) bytes.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
  return { bytes, desc: descriptorFor(mediaType, bytes) };
}

/** A JSON document's bytes and descriptor. */
export function jsonBlob(value: unknown, mediaType: string): { bytes: Buffer; desc: Descriptor } {
  const bytes = Buffer.from(JSON.stringify(value));
  return { bytes, desc: descriptorFor(mediaType, bytes) };
}

/**
 * An OCI image manifest over `layers` with the empty config, optionally with a subject, artifact type and
 * annotations: core's `packManifest`, as push and signatures write one.
 */
export function imageManifest(
  layers: Descriptor[],
  extra: { subject?: Descriptor; artifactType?: string; annotations?: Record<string, string> } = {},
): { bytes: Buffer; desc: Descriptor } {
  const { bytes, descriptor } = packManifest({ config: emptyConfig.desc, layers, ...extra });
  return { bytes, desc: descriptor };
}

/** The OCI empty config blob `{}`. */
export const emptyConfig = {
  bytes: Buffer.from('{}'),
  desc: descriptorFor('application/vnd.oci.empty.v1+json', Buffer.from('{}')),
};

/** Collects a byte stream. */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A client that never reads the machine's docker config (tests must not depend on the developer's logins). */
export function isolatedClient(options: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClient({
    credentials: false,
    retry: { minDelayMs: 5, maxDelayMs: 50, maxRetryAfterMs: 3_000 },
    ...options,
  });
}

/** Pushes a small artifact (empty config + one layer + manifest tagged `tag`) and returns the manifest descriptor. */
export async function pushSmallArtifact(
  client: RegistryClient,
  reference: string,
  tag: string,
  content = 'hello lading',
): Promise<{ manifest: Descriptor; layer: Descriptor }> {
  const repo = client.repository(reference);
  const layer = descriptorFor('application/vnd.oci.image.layer.v1.tar', Buffer.from(content));
  layer.annotations = { 'org.opencontainers.image.title': 'hello.txt' };
  await repo.push(emptyConfig.desc, emptyConfig.bytes);
  await repo.push(layer, Buffer.from(content));
  const m = imageManifest([layer]);
  await repo.pushManifest(m.desc, m.bytes, [tag]);
  return { manifest: m.desc, layer };
}
