import { describe, expect, it } from 'vitest';
import { anchoredRegExp, compileIdentities, type CertificateIdentity } from './identity-policy.js';

const issuer = 'https://token.actions.githubusercontent.com';
const workflow = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';

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

  it('requires the Fulcio extensions an identity names, exactly or by anchored pattern, failing closed', () => {
    const [matcher] = compileIdentities([
      {
        subject: workflow,
        issuer,
        extensions: { sourceRepositoryURI: 'https://github.com/acme/app', sourceRepositoryRef: 'refs/heads/main' },
        extensionRegExps: { buildSignerURI: 'https://github\\.com/acme/app/\\.github/workflows/release\\.yml@.+' },
      },
    ]);
    const extensions = {
      issuer,
      sourceRepositoryURI: 'https://github.com/acme/app',
      sourceRepositoryRef: 'refs/heads/main',
      buildSignerURI: workflow,
    };
    expect(matcher?.mismatch(workflow, issuer, extensions)).toBeUndefined();
    expect(matcher?.description).toContain('sourceRepositoryURI "https://github.com/acme/app"');
    expect(
      matcher?.mismatch(workflow, issuer, { ...extensions, sourceRepositoryURI: 'https://github.com/acme/fork' }),
    ).toBe(
      'certificate extension sourceRepositoryURI "https://github.com/acme/fork" is not "https://github.com/acme/app"',
    );
    expect(matcher?.mismatch(workflow, issuer, { ...extensions, sourceRepositoryRef: 'refs/heads/dev' })).toBe(
      'certificate extension sourceRepositoryRef "refs/heads/dev" is not "refs/heads/main"',
    );
    // The pattern is anchored: another workflow, or the same path under another repository, does not match.
    const other = 'https://github.com/acme/app/.github/workflows/release.yml2@refs/heads/main';
    expect(matcher?.mismatch(workflow, issuer, { ...extensions, buildSignerURI: other })).toMatch(
      /^certificate extension buildSignerURI ".+release\.yml2@refs\/heads\/main" is not matching \/\^\(\?:/,
    );
    // Missing: absent from the certificate, or no extensions given at all.
    const { sourceRepositoryRef: _ref, ...withoutRef } = extensions;
    expect(matcher?.mismatch(workflow, issuer, withoutRef)).toBe(
      'certificate extension sourceRepositoryRef (none) is not "refs/heads/main"',
    );
    expect(matcher?.mismatch(workflow, issuer)).toMatch(/^certificate extension sourceRepositoryURI \(none\)/);
    // Subject and issuer are still checked first.
    expect(matcher?.mismatch('https://github.com/evil/app', issuer, extensions)).toMatch(/^subject /);
  });

  it('does not read required extensions from the prototype of the certificate values', () => {
    const [matcher] = compileIdentities([{ subject: workflow, issuer, extensionRegExps: { buildTrigger: '.*' } }]);
    expect(matcher?.mismatch(workflow, issuer, {})).toBe(
      'certificate extension buildTrigger (none) is not matching /^(?:.*)$/',
    );
    expect(matcher?.mismatch(workflow, issuer, { buildTrigger: 'push' })).toBeUndefined();
  });

  it.each([
    [{ issuer }, /identities\[0\]\.subject: give exactly one/],
    [{ subject: 'a', subjectRegExp: 'a', issuer }, /identities\[0\]\.subject: give exactly one/],
    [{ subject: 'a' }, /identities\[0\]\.issuer: give exactly one/],
    [{ subject: '', issuer }, /identities\[0\]\.subject: empty/],
    [{ subjectRegExp: '(', issuer }, /identities\[0\]\.subjectRegExp: Invalid regular expression/],
    [
      { subject: 'a', issuer, extensions: { repository: 'x' } },
      /identities\[0\]\.extensions\.repository: not a Fulcio extension name \(issuer, buildSignerURI,/,
    ],
    [{ subject: 'a', issuer, extensions: { sourceRepositoryURI: '' } }, /extensions\.sourceRepositoryURI: empty/],
    [
      { subject: 'a', issuer, extensionRegExps: { buildSignerURI: '[' } },
      /extensionRegExps\.buildSignerURIRegExp: Invalid regular expression/,
    ],
    [{ subject: 'a', issuer, extensions: { sourceRepositoryRef: 7 } }, /extensions\.sourceRepositoryRef: not a string/],
    [{ subject: 'a', issuer, extensions: ['x'] }, /identities\[0\]\.extensions: not an object/],
  ])('refuses a malformed identity %j', (identity, message) => {
    // Some identities are malformed on purpose (JSON from a config file is not type-checked).
    expect(() => compileIdentities([identity as CertificateIdentity])).toThrow(message);
  });
});
