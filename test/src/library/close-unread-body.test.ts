// client.close() releases response bodies nobody read (issue 11): a fetched blob whose stream is never consumed
// used to keep its connection busy, and undici's close waits for every request to finish, so close never returned.
// The blobs are large enough (8 MiB) that the registry is still sending when close is called.
import { randomBytes } from 'node:crypto';

import { ErrorCodes } from '@lading/core';
import { beforeAll, describe, expect, it } from 'vitest';

import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { isolatedClient, randomBlob } from '../registry/helpers.js';
import { testbed, type TestBed } from '../testbed/index.js';

const bed: TestBed = testbed();
const blob = randomBlob(8 * 1024 * 1024);
let fake: FakeRegistry;

beforeAll(async () => {
  fake = await startFakeRegistry();
  return async () => {
    await fake.close();
  };
});

describe('client.close() with a fetched blob never read', () => {
  it('returns (distribution), and the abandoned stream then fails with ERR_LADING_NETWORK', async () => {
    const client = isolatedClient();
    const repo = client.repository(`${bed.registries.anonymous.host}/close/unread-${randomBytes(4).toString('hex')}`);
    await repo.push(blob.desc, blob.bytes);
    const stream = await repo.fetch(blob.desc);
    await client.close();
    const reading = (async () => {
      for await (const _ of stream) {
        // drain
      }
    })();
    await expect(reading).rejects.toMatchObject({ code: ErrorCodes.network });
  });

  it('returns (fake registry), with several unread bodies and one read to its end', async () => {
    const client = isolatedClient();
    const name = `close/unread-${randomBytes(4).toString('hex')}`;
    fake.putBlob(name, blob.bytes);
    const repo = client.repository(`${fake.host}/${name}`);
    const unread = [await repo.fetch(blob.desc), await repo.fetch(blob.desc)];
    let size = 0;
    for await (const chunk of await repo.fetch(blob.desc)) size += chunk.byteLength;
    expect(size).toBe(blob.desc.size);
    await client.close();
    expect(unread).toHaveLength(2);
  });
});
