import { Writable } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { writeContent } from './cat.js';

let produced = 0;

async function* chunks(count: number, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) {
    produced++;
    yield new Uint8Array(size).fill(i % 256);
  }
  await Promise.resolve();
}

describe('writeContent', () => {
  it('copies every byte with backpressure and leaves the output open', async () => {
    const received: Buffer[] = [];
    produced = 0;
    let ahead = 0;
    // A slow reader: the source must not run ahead of it (chunks read but not yet written stay few).
    const out = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, done) {
        received.push(chunk);
        ahead = Math.max(ahead, produced - received.length);
        setImmediate(done);
      },
    });
    await writeContent(chunks(64, 4096), out);
    expect(Buffer.concat(received).length).toBe(64 * 4096);
    expect(received[63]?.[0]).toBe(63);
    expect(ahead).toBeLessThanOrEqual(2);
    expect(out.writableEnded).toBe(false);
  });

  it('treats a reader that went away (EPIPE) as success', async () => {
    const out = new Writable({
      write(_chunk, _enc, done) {
        done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    await expect(writeContent(chunks(4, 16), out)).resolves.toBeUndefined();
  });

  it('passes other errors on', async () => {
    const out = new Writable({
      write(_chunk, _enc, done) {
        done(Object.assign(new Error('no space'), { code: 'ENOSPC' }));
      },
    });
    await expect(writeContent(chunks(4, 16), out)).rejects.toThrow('no space');
  });
});
