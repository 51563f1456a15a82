import { Readable } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { readPassword } from './base-command.js';

describe('readPassword', () => {
  it('drops one trailing newline', async () => {
    await expect(readPassword(Readable.from([Buffer.from('s3cret\n')]))).resolves.toBe('s3cret');
    await expect(readPassword(Readable.from([Buffer.from('s3c'), Buffer.from('ret\r\n')]))).resolves.toBe('s3cret');
  });

  it('keeps other whitespace, which may be part of the password', async () => {
    await expect(readPassword(Readable.from([Buffer.from(' pass word \n\n')]))).resolves.toBe(' pass word \n');
  });

  it('refuses empty input', async () => {
    await expect(readPassword(Readable.from([]))).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_LADING_USAGE', message: '--password-stdin: standard input was empty' }),
    );
  });
});
