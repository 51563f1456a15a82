import { describe, expect, it } from 'vitest';

import { formatBytes, formatMode, parseSize, shortDigest, terminalSafe } from './format.js';

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

describe('terminalSafe', () => {
  it('escapes what a terminal would act on: C0, DEL, C1, bidi overrides, separators, lone surrogates', () => {
    expect(terminalSafe('a\u001b[2Jb')).toBe('a\\x1b[2Jb');
    expect(terminalSafe('\u001b]0;pwned\u0007')).toBe('\\x1b]0;pwned\\x07');
    expect(terminalSafe('x\u009b2J\u007f\r\t\n')).toBe('x\\x9b2J\\x7f\\x0d\\x09\\x0a');
    expect(terminalSafe('evil\u202egnp.exe \u2066x\u2069 \u200b \ufeff \u2028')).toBe(
      'evil\\u202egnp.exe \\u2066x\\u2069 \\u200b \\ufeff \\u2028',
    );
    expect(terminalSafe('lone \ud800 surrogate')).toBe('lone \\ud800 surrogate');
  });

  it('leaves printable text alone: other scripts, emoji with joiners, backslashes', () => {
    const text = 'config/ünïcødé-名前 👨\u200d👩\u200d👧 a\\b %s';
    expect(terminalSafe(text)).toBe(text);
  });

  it('keeps newlines when asked (multi-line messages), still escaping the rest', () => {
    expect(terminalSafe('one\ntwo\u001b[0m', { keepNewlines: true })).toBe('one\ntwo\\x1b[0m');
  });
});
