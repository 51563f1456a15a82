/**
 * Pushes a text file to an OCI registry as oras would, then pulls it back, using only `@lading/core`.
 *
 *   REGISTRY_PASSWORD=... node dist/main.js 127.0.0.1:5000/examples/hello:v1 [--plain-http] [--username ci]
 *
 * Prints `{ reference, manifestDigest, blobDigest, title, content }` as JSON on stdout; errors go to stderr.
 */
import { parseArgs } from 'node:util';

import {
  AnnotationTitle,
  EmptyJSON,
  MediaTypeImageLayer,
  MediaTypeImageManifest,
  RegistryClient,
  descriptorFor,
  isLadingError,
  parseManifest,
  parseReference,
  readAll,
  type ImageManifest,
  type RegistryClientOptions,
} from '@lading/core';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'plain-http': { type: 'boolean' }, username: { type: 'string' } },
});
const [target] = positionals;
if (target === undefined) {
  console.error('usage: main.js <registry/repository:tag> [--plain-http] [--username <name>] (REGISTRY_PASSWORD)');
  process.exit(2);
}

// One reference parser for the whole library: `host[:port]/path[:tag][@digest]`, Docker Hub names included.
const reference = parseReference(target);
const tag = reference.tag ?? 'latest';

// Loopback hosts already default to plain HTTP (like oras); `--plain-http` asks for it anywhere else. The password
// comes from the environment, never from argv, where other users of the machine could read it.
const options: RegistryClientOptions = {};
if (values['plain-http']) options.plainHTTP = true;
if (values.username !== undefined) {
  const password = process.env.REGISTRY_PASSWORD ?? '';
  options.credential = { kind: 'basic', username: values.username, password };
}
// Without a credential the client reads the docker config (and credential helpers) only when a registry asks.
const client = new RegistryClient(options);

try {
  const repo = client.repository(reference);

  // 1. The blobs: the file itself, titled like `oras push` titles files, and the OCI 1.1 empty config `{}`.
  const content = Buffer.from('Hello from @lading/core!\n');
  const layer = descriptorFor(MediaTypeImageLayer, content);
  layer.annotations = { [AnnotationTitle]: 'hello.txt' };
  await repo.push(layer, content); // size and digest are checked against the descriptor as the bytes go out
  await repo.push(EmptyJSON, Buffer.from('{}'));

  // 2. The manifest ties them together; pushing it under a tag makes it addressable as `<repository>:<tag>`.
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypeImageManifest,
    artifactType: 'application/vnd.lading.example.v1',
    config: EmptyJSON,
    layers: [layer],
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  await repo.pushManifest(descriptorFor(MediaTypeImageManifest, manifestBytes), manifestBytes, [tag]);

  // 3. Pull it back as a stranger would: resolve the tag, fetch the manifest (its bytes are hashed and compared
  //    with the digest before they are parsed), then stream the blob, which is verified for size and digest.
  const resolved = await repo.resolve(tag);
  const fetched = await repo.fetchManifest(resolved.digest);
  const parsed = parseManifest(fetched.bytes, fetched.descriptor.mediaType, `manifest ${resolved.digest}`);
  if (parsed.kind !== 'manifest') throw new Error(`${target} is an index, not an image manifest`);
  const file = parsed.manifest.layers.find((d) => d.annotations?.[AnnotationTitle] !== undefined);
  if (file === undefined) throw new Error(`${target} has no titled layer`);
  // Only a stream read to its end without error is verified: `readAll` rethrows an integrity error.
  const pulled = await readAll(await repo.fetch(file), 1024 * 1024, `blob ${file.digest}`);

  const result = {
    reference: `${reference.registry}/${reference.repository}:${tag}`,
    manifestDigest: resolved.digest,
    blobDigest: file.digest,
    title: file.annotations?.[AnnotationTitle],
    content: Buffer.from(pulled).toString('utf8'),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  // Every deliberate error of the library carries a stable `code` (ERR_LADING_AUTH, ERR_LADING_NETWORK, ...).
  console.error(isLadingError(error) ? `${error.code}: ${error.message}` : error);
  process.exitCode = 1;
} finally {
  await client.close();
}
