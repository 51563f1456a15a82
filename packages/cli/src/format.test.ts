import { describe, expect, it } from 'vitest';

import { formatBytes, formatMode, parseSize, shortDigest } from './format.js';

describe('formatBytes', () => {
  it('shows bytes below 1 KiB as they are', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
  });

  it('uses binary units, one decimal below 10', () => {
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1229)).toBe('1.2 KiB');
    expect(formatBytes(3.45 * 1024 ** 2)).toBe('3.4 MiB');
    expect(formatBytes(12 * 1024 ** 2 + 5)).toBe('12 MiB');
    expect(formatBytes(16 * 1024 ** 3)).toBe('16 GiB');
    expect(formatBytes(2 * 1024 ** 4)).toBe('2.0 TiB');
  });
});

describe('parseSize', () => {
  it('reads plain bytes and units, case-insensitively', () => {
    expect(parseSize('42')).toBe(42);
    expect(parseSize('42B')).toBe(42);
    expect(parseSize('10MiB')).toBe(10 * 1024 ** 2);
    expect(parseSize('10m')).toBe(10 * 1024 ** 2);
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('2 gib')).toBe(2 * 1024 ** 3);
    expect(parseSize('1.5KiB')).toBe(1536);
    expect(parseSize('3KB')).toBe(3000);
    expect(parseSize('1TB')).toBe(1e12);
  });

  it('refuses what is not a size, naming the flag', () => {
    expect(() => parseSize('ten', '--max-file-size')).toThrow(
      expect.objectContaining({
        code: 'ERR_LADING_USAGE',
        message: expect.stringMatching(/^--max-file-size "ten": not a size/) as unknown,
      }),
    );
    expect(() => parseSize('10XB')).toThrow(/not a size/);
    expect(() => parseSize('-1')).toThrow(/not a size/);
    expect(() => parseSize('0')).toThrow(/between 1 byte/);
    expect(() => parseSize('0.1B')).toThrow(/between 1 byte/);
  });
});

describe('formatMode', () => {
  it('renders type and permission bits like ls -l', () => {
    expect(formatMode('file', 0o755)).toBe('-rwxr-xr-x');
    expect(formatMode('file', 0o644)).toBe('-rw-r--r--');
    expect(formatMode('dir', 0o755)).toBe('drwxr-xr-x');
    expect(formatMode('symlink', 0o777)).toBe('lrwxrwxrwx');
    expect(formatMode('file', 0o600)).toBe('-rw-------');
  });

  it('ignores setuid, setgid and sticky bits', () => {
    expect(formatMode('file', 0o4755)).toBe('-rwxr-xr-x');
  });
});

describe('shortDigest', () => {
  it('keeps the algorithm and 12 hex digits', () => {
    expect(shortDigest(`sha256:${'ab'.repeat(32)}`)).toBe('sha256:abababababab');
  });
});
