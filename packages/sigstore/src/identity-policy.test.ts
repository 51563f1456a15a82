import { describe, expect, it } from 'vitest';
import { anchoredRegExp, compileIdentities } from './identity-policy.js';

const issuer = 'https://token.actions.githubusercontent.com';

describe('identity policy', () => {
  it('anchors regular expressions: a pattern must match the whole value', () => {
    const regexp = anchoredRegExp('alice@example.com', 'subjectRegExp');
    expect(regexp.test('alice@example.com')).toBe(true);
    expect(regexp.test('xalice@example.com.evil')).toBe(false);
    // Alternation stays inside the anchors: `a|b` must not become `^a|b$`.
    const alternation = anchoredRegExp('a@x\\.com|b@x\\.com', 'subjectRegExp');
    expect(alternation.test('b@x.com')).toBe(true);
    expect(alternation.test('b@x.com.evil')).toBe(false);
    expect(alternation.test('evil.a@x.com')).toBe(false);
  });

  it('matches an exact subject and issuer, and says which one differs', () => {
    const [matcher] = compileIdentities([{ subject: 'alice@example.com', issuer }]);
    expect(matcher?.mismatch('alice@example.com', issuer)).toBeUndefined();
    expect(matcher?.mismatch('mallory@example.com', issuer)).toBe(
      'subject "mallory@example.com" is not "alice@example.com"',
    );
    expect(matcher?.mismatch('alice@example.com', 'https://accounts.google.com')).toBe(
      `issuer "https://accounts.google.com" is not "${issuer}"`,
    );
    expect(matcher?.mismatch(undefined, issuer)).toBe('subject (none) is not "alice@example.com"');
  });

  it('matches regular expressions for subject and issuer', () => {
    const [matcher] = compileIdentities([
      {
        subjectRegExp: 'https://github\\.com/acme/.+',
        issuerRegExp: 'https://token\\.actions\\.githubusercontent\\.com',
      },
    ]);
    expect(
      matcher?.mismatch('https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main', issuer),
    ).toBeUndefined();
    expect(matcher?.mismatch('https://github.com/evil/app', issuer)).toMatch(
      /^subject "https:\/\/github.com\/evil\/app" is not matching/,
    );
  });

  it.each([
    [{ issuer }, /identities\[0\]\.subject: give exactly one/],
    [{ subject: 'a', subjectRegExp: 'a', issuer }, /identities\[0\]\.subject: give exactly one/],
    [{ subject: 'a' }, /identities\[0\]\.issuer: give exactly one/],
    [{ subject: '', issuer }, /identities\[0\]\.subject: empty/],
    [{ subjectRegExp: '(', issuer }, /identities\[0\]\.subjectRegExp: Invalid regular expression/],
  ])('refuses a malformed identity %j', (identity, message) => {
    expect(() => compileIdentities([identity])).toThrow(message);
  });
});
