// A 1 GiB file through a real registry and back: streamed both ways, memory bounded, content identical.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { openTarget, pullArtifact, pushArtifact } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isolatedClient } from '../registry/helpers.js';
import { testbed, type TestBed } from '../testbed/index.js';

const bed: TestBed = testbed();
const size = 1024 ** 3;
let work: string;
let expected: string;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lading-large-'));
  // Incompressible content written in 1 MiB blocks (never held whole in memory): one random block, stamped with
  // its index so no two blocks are equal.
  const out = createWriteStream(path.join(work, 'big.bin'));
  const hash = createHash('sha256');
  const chunk = randomBytes(1024 * 1024);
  for (let index = 0; index * chunk.length < size; index++) {
    chunk.writeUInt32LE(index, 0);
    hash.update(chunk);
    if (!out.write(Buffer.from(chunk))) {
      await new Promise<void>((resolve) => {
        out.once('drain', () => {
          resolve();
        });
      });
    }
  }
  await new Promise<void>((resolve, reject) => {
    out.end((e?: Error | null) => {
      if (e) reject(e);
      else resolve();
    });
  });
  expected = hash.digest('hex');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('a 1 GiB file', () => {
  it('goes to distribution and back streamed, with bounded memory', async () => {
    const client = isolatedClient();
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    const base = process.memoryUsage().rss;
    try {
      const reference = `${bed.registries.anonymous.host}/large/one-gib:v1`;
      const { target } = await openTarget(reference, { client });
      const pushed = await pushArtifact(target, [{ path: 'big.bin' }], { cwd: work, tags: ['v1'] });
      expect(pushed.layers[0]?.size).toBe(size);
      const out = path.join(work, 'out');
      await pullArtifact(target, 'v1', { destination: out });
      expect((await stat(path.join(out, 'big.bin'))).size).toBe(size);
      expect(await sha256File(path.join(out, 'big.bin'))).toBe(expected);
    } finally {
      clearInterval(sampler);
      await client.close();
    }
    const grewMB = (peak - base) / 1024 / 1024;
    console.info(`1 GiB push + pull: peak RSS ${(peak / 1024 / 1024).toFixed(0)} MB (grew ${grewMB.toFixed(0)} MB)`);
    // Streaming means the 1 GiB never sits in memory: growth stays far below the file size.
    expect(grewMB).toBeLessThan(200);
  });
});
