import { describe, expect, it } from 'vitest';

import type { Fetcher } from './content.js';
import { descriptorFor, fetchAll, verifyContent } from './digest.js';
import { ErrorCodes, isLadingError } from './errors.js';

/** A fetcher serving `bytes` for any descriptor, counting its calls. */
function serving(bytes: Uint8Array): Fetcher & { calls: number } {
  const fetcher = {
    calls: 0,
    fetch: () => {
      fetcher.calls += 1;
      return Promise.resolve(
        (async function* () {
          await Promise.resolve();
          yield bytes;
        })(),
      );
    },
  };
  return fetcher;
}

describe('fetchAll', () => {
  const bytes = Buffer.from('{"schemaVersion":2}');
  const desc = descriptorFor('application/vnd.oci.image.manifest.v1+json', bytes);

  it('reads content that matches its descriptor', async () => {
    expect(Buffer.from(await fetchAll(serving(bytes), desc, 'test'))).toEqual(bytes);
  });

  it("passes on the fetcher's digest check (ERR_LADING_INTEGRITY): the fetcher owns it", async () => {
    const tampered = Buffer.from('{"schemaVersion":3}');
    const verifying: Fetcher = {
      fetch: async (d) => verifyContent(d, await serving(tampered).fetch(d), 'fetch'),
    };
    const error = await fetchAll(verifying, desc, 'test').catch((e: unknown) => e);
    expect(isLadingError(error, ErrorCodes.integrity)).toBe(true);
    expect((error as Error).message).toBe(
      `fetch: digest mismatch: expected ${desc.digest}, got ${descriptorFor('x', tampered).digest}`,
    );
  });

  it('reads no more than the descriptor says (ERR_LADING_PROTOCOL)', async () => {
    const longer = Buffer.concat([bytes, Buffer.from(' ')]);
    const error = await fetchAll(serving(longer), desc, 'test').catch((e: unknown) => e);
    expect(isLadingError(error, ErrorCodes.protocol)).toBe(true);
  });

  it('refuses a descriptor over the limit before fetching (ERR_LADING_PROTOCOL)', async () => {
    const fetcher = serving(bytes);
    const error = await fetchAll(fetcher, desc, 'test', {}, desc.size - 1).catch((e: unknown) => e);
    expect(isLadingError(error, ErrorCodes.protocol)).toBe(true);
    expect((error as Error).message).toBe(`test: ${desc.digest} is larger than the ${desc.size - 1}-byte limit`);
    expect(fetcher.calls).toBe(0);
  });
});
