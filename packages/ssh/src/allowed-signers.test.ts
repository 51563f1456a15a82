import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { matchPattern, matchPatternList, parseAllowedSigners, parseTime } from './allowed-signers.js';
import { formatPublicKey, plainKeyBlob, parsePublicKey } from './keys.js';

function keyLine(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const blob = plainKeyBlob({ keyType: 'ssh-ed25519', key: publicKey });
  return formatPublicKey(parsePublicKey(blob));
}

describe('principal patterns (OpenSSH match.c)', () => {
  it('matches * and ? over the whole string, case-sensitively, with regexp characters taken literally', () => {
    expect(matchPattern('alice@example.com', '*@example.com')).toBe(true);
    expect(matchPattern('alice@example.com', 'alic?@example.com')).toBe(true);
    expect(matchPattern('alice@example.com', 'alice')).toBe(false);
    expect(matchPattern('Alice@example.com', 'alice@example.com')).toBe(false);
    expect(matchPattern('aliceXexample.com', 'alice.example.com')).toBe(false);
    expect(matchPattern('a+b', 'a+b')).toBe(true);
  });

  it('a negated pattern wins over any positive one; no positive match is no match', () => {
    expect(matchPatternList('bob@example.com', '*@example.com,!alice@example.com')).toBe(true);
    expect(matchPatternList('alice@example.com', '*@example.com,!alice@example.com')).toBe(false);
    expect(matchPatternList('alice@example.com', '!alice@example.com,*')).toBe(false);
    expect(matchPatternList('carol@other.org', '*@example.com')).toBe(false);
    expect(matchPatternList('carol@other.org', '!bob@other.org')).toBe(false);
  });
});

describe('parseTime', () => {
  it('reads YYYYMMDD[HHMM[SS]] with Z as UTC and without as local time', () => {
    expect(parseTime('20260102Z').toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(parseTime('202601021304Z').toISOString()).toBe('2026-01-02T13:04:00.000Z');
    expect(parseTime('20260102130405Z').toISOString()).toBe('2026-01-02T13:04:05.000Z');
    expect(parseTime('20260102').getTime()).toBe(new Date(2026, 0, 2).getTime());
  });

  it('refuses malformed and impossible dates', () => {
    expect(() => parseTime('2026-01-02')).toThrow('is not YYYYMMDD[HHMM[SS]][Z]');
    expect(() => parseTime('20260231Z')).toThrow('is not a valid date');
    expect(() => parseTime('202601022500Z')).toThrow('is not a valid date');
  });
});

describe('parseAllowedSigners', () => {
  it('reads principals, quoted options, cert-authority and comments; skips blank and # lines', () => {
    const a = keyLine();
    const b = keyLine();
    const text = [
      '# maintainers',
      '',
      `alice@example.com,bob@example.com ${a} alice's laptop`,
      `*@example.com cert-authority,namespaces="lading,git",valid-after="20260101Z",valid-before="20270101Z" ${b}`,
    ].join('\n');
    const [first, second, ...rest] = parseAllowedSigners(text, 'allowed_signers');
    expect(rest).toEqual([]);
    expect(first).toMatchObject({
      principals: 'alice@example.com,bob@example.com',
      certAuthority: false,
      source: 'allowed_signers:3',
    });
    expect(first?.namespaces).toBeUndefined();
    expect(second).toMatchObject({ principals: '*@example.com', certAuthority: true, namespaces: 'lading,git' });
    expect(second?.validAfter?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(second?.validBefore?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(formatPublicKey(second?.key ?? { type: '', blob: Buffer.alloc(0) })).toBe(b);
  });

  it('refuses the whole file with FILE:LINE for a bad line, an unknown option, a bad key', () => {
    const a = keyLine();
    expect(() => parseAllowedSigners(`alice ${a}\nbob`, 'f')).toThrow('f:2: expected "principals [options] key"');
    expect(() => parseAllowedSigners(`alice restrict ${a}`, 'f')).toThrow('f:1: unsupported option "restrict"');
    expect(() => parseAllowedSigners(`alice valid-after="yesterday" ${a}`, 'f')).toThrow('f:1: time "yesterday"');
    expect(() => parseAllowedSigners('alice ssh-ed25519 AAAA', 'f')).toThrow('f:1: key: truncated');
    expect(() => parseAllowedSigners(`alice ${a.replace('ssh-ed25519', 'ssh-rsa')}`, 'f')).toThrow(
      'f:1: key: says ssh-rsa but the key is ssh-ed25519',
    );
  });
});
