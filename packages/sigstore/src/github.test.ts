import type { VerifiedSignature } from '@lading/core';
import { describe, expect, it } from 'vitest';
import { compileGitHubPolicy, GitHubActionsIssuer, type GitHubAttestationPolicy } from './github.js';

const workflow = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1';
const sha = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

/** A verified keyless signature by acme/app's release.yml for tag v1 (a plain signature: no SLSA check). */
function signature(extensions: Record<string, string> = {}, identity = workflow): VerifiedSignature {
  return {
    verifier: 'sigstore',
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
    identity,
    issuer: GitHubActionsIssuer,
    referrer: 'sha256:00',
    extensions: {
      sourceRepositoryOwnerURI: 'https://github.com/acme',
      sourceRepositoryURI: 'https://github.com/acme/app',
      sourceRepositoryRef: 'refs/tags/v1',
      sourceRepositoryDigest: sha,
      buildSignerDigest: sha,
      runnerEnvironment: 'github-hosted',
      ...extensions,
    },
  };
}

function why(policy: GitHubAttestationPolicy, s: VerifiedSignature): string | undefined {
  try {
    compileGitHubPolicy(policy).check(s);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('gh attestation verify identity rules', () => {
  it('accepts the repository or owner in any case, and the issuer defaults to GitHub Actions', () => {
    expect(compileGitHubPolicy({ repository: 'acme/app' }).identity).toEqual({
      issuer: GitHubActionsIssuer,
      subjectRegExp: '.+',
    });
    expect(why({ repository: 'ACME/App' }, signature())).toBeUndefined();
    expect(why({ owner: 'Acme' }, signature())).toBeUndefined();
    expect(
      why(
        {
          repository: 'acme/app',
          sourceRef: 'refs/tags/v1',
          sourceDigest: sha.toUpperCase(),
          signerDigest: sha,
          denySelfHostedRunners: true,
        },
        signature(),
      ),
    ).toBeUndefined();
  });

  it('refuses another repository or owner, naming the extension or the identity', () => {
    expect(why({ repository: 'acme/other' }, signature())).toMatch(
      /certificate identity .* is not a workflow of the repository "acme\/other"/,
    );
    // The identity may be a reusable workflow elsewhere: the extension still names the source repository.
    const reusable = 'https://github.com/acme/other/.github/workflows/x.yml@refs/heads/main';
    expect(why({ repository: 'acme/app', signerRepository: 'acme/other' }, signature({}, reusable))).toBeUndefined();
    expect(why({ repository: 'acme/other', signerRepository: 'acme/other' }, signature({}, reusable))).toMatch(
      /certificate extension sourceRepositoryURI "https:\/\/github.com\/acme\/app" is not "https:\/\/github.com\/acme\/other" \(repository\)/,
    );
    expect(
      why({ owner: 'evil' }, signature({}, 'https://github.com/evil/app/.github/workflows/r.yml@refs/heads/main')),
    ).toMatch(/sourceRepositoryOwnerURI "https:\/\/github.com\/acme" is not "https:\/\/github.com\/evil" \(owner\)/);
    // A prefix is matched at a path boundary: acme/app-evil is not acme/app.
    expect(
      why({ repository: 'acme/app' }, signature({}, 'https://github.com/acme/app-evil/.github/workflows/r.yml@x')),
    ).toMatch(/not a workflow of the repository/);
  });

  it('signer workflow: any ref, or pinned with @ref; exact path; branch is not tag', () => {
    expect(
      why({ repository: 'acme/app', signerWorkflow: 'acme/app/.github/workflows/release.yml' }, signature()),
    ).toBeUndefined();
    expect(
      why(
        { repository: 'acme/app', signerWorkflow: 'github.com/acme/app/.github/workflows/release.yml@refs/tags/v1' },
        signature(),
      ),
    ).toBeUndefined();
    expect(
      why({ repository: 'acme/app', signerWorkflow: 'acme/app/.github/workflows/other.yml' }, signature()),
    ).toMatch(/is not the signer workflow ".*other\.yml" at any ref/);
    expect(why({ repository: 'acme/app', signerWorkflow: 'acme/app/.github/workflows/release' }, signature())).toMatch(
      /is not the signer workflow/,
    );
    const branch = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
    expect(
      why(
        { repository: 'acme/app', signerWorkflow: 'acme/app/.github/workflows/release.yml@refs/tags/v1' },
        signature({}, branch),
      ),
    ).toMatch(/is not the signer workflow ".*release\.yml@refs\/tags\/v1"/);
    expect(
      why({ repository: 'acme/app', sourceRef: 'refs/tags/v1' }, signature({ sourceRepositoryRef: 'refs/heads/main' })),
    ).toMatch(/certificate extension sourceRepositoryRef "refs\/heads\/main" is not "refs\/tags\/v1" \(source ref\)/);
  });

  it('cert identity: exactly; cert identity regexp: the whole value; the repository extensions still apply', () => {
    expect(why({ repository: 'acme/app', certIdentity: workflow }, signature())).toBeUndefined();
    expect(why({ owner: 'acme', certIdentity: `${workflow}x` }, signature())).toMatch(
      /^certificate identity ".*release\.yml@refs\/tags\/v1" is not ".*v1x" \(cert identity\)$/,
    );
    // Case matters for an exact identity (gh compares the SAN exactly too).
    expect(why({ repository: 'acme/app', certIdentity: workflow.toUpperCase() }, signature())).toMatch(
      /\(cert identity\)$/,
    );
    const tags = String.raw`https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/v.*`;
    expect(why({ repository: 'acme/app', certIdentityRegExp: tags }, signature())).toBeUndefined();
    const branch = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
    expect(why({ repository: 'acme/app', certIdentityRegExp: tags }, signature({}, branch))).toMatch(
      /does not match ".*" \(cert identity regexp, whole value\)$/,
    );
    // Anchored: a pattern for part of the identity is not enough (gh's would match anywhere).
    expect(why({ repository: 'acme/app', certIdentityRegExp: 'release\\.yml' }, signature())).toMatch(
      /does not match "release\\\\.yml"/,
    );
    // A reusable workflow elsewhere may be named by identity; the source repository must still be the one asked for.
    const reusable = 'https://github.com/other/tools/.github/workflows/build.yml@refs/heads/main';
    expect(why({ repository: 'acme/app', certIdentity: reusable }, signature({}, reusable))).toBeUndefined();
    expect(why({ repository: 'acme/lib', certIdentity: reusable }, signature({}, reusable))).toMatch(
      /sourceRepositoryURI "https:\/\/github.com\/acme\/app" is not "https:\/\/github.com\/acme\/lib" \(repository\)/,
    );
    expect(why({ owner: 'other', certIdentityRegExp: '.+' }, signature({}, reusable))).toMatch(
      /sourceRepositoryOwnerURI "https:\/\/github.com\/acme" is not "https:\/\/github.com\/other" \(owner\)/,
    );
  });

  it('deny self-hosted runners; a missing extension fails', () => {
    expect(
      why({ repository: 'acme/app', denySelfHostedRunners: true }, signature({ runnerEnvironment: 'self-hosted' })),
    ).toMatch(/runnerEnvironment "self-hosted" is not "github-hosted" \(self-hosted runners denied\)/);
    expect(why({ repository: 'acme/app' }, { ...signature(), extensions: {} })).toMatch(
      /sourceRepositoryOwnerURI \(none\)/,
    );
  });

  it('SLSA v1 provenance must carry a statement, whose predicate is checked against the certificate', () => {
    const slsa = { ...signature(), predicateType: 'https://slsa.dev/provenance/v1' };
    expect(why({ repository: 'acme/app' }, slsa)).toMatch(/carries no in-toto statement/);
    expect(why({ repository: 'acme/app' }, { ...slsa, statement: { predicate: {} } })).toMatch(
      /buildDefinition\.buildType/,
    );
  });

  it.each<[GitHubAttestationPolicy, RegExp]>([
    [{}, /repository \(owner\/repo\) or the owner/],
    [{ repository: 'acme/app', owner: 'acme' }, /not both/],
    [{ repository: 'acme' }, /not owner\/repo/],
    [{ owner: 'a/b' }, /not a GitHub account name/],
    [
      { repository: 'acme/app', signerWorkflow: 'x', signerRepository: 'a/b' },
      /give one of .*, not signerWorkflow and signerRepository$/,
    ],
    [
      { repository: 'acme/app', certIdentity: workflow, certIdentityRegExp: '.*' },
      /not certIdentity and certIdentityRegExp$/,
    ],
    [
      { repository: 'acme/app', signerRepository: 'acme/app', certIdentity: workflow },
      /not signerRepository and certIdentity$/,
    ],
    [{ repository: 'acme/app', certIdentityRegExp: 'a(' }, /certIdentityRegExp "a\(" is not a regular expression: /],
    [{ repository: 'acme/app', certIdentity: '' }, /certIdentity is empty/],
    [
      { repository: 'acme/app', signerWorkflow: 'release.yml' },
      /signerWorkflow "release.yml" is not owner\/repo\/path/,
    ],
    [{ repository: 'acme/app', signerWorkflow: 'acme/app/.github/workflows/r.yml@' }, /is not owner\/repo\/path/],
    [{ repository: 'acme/app', sourceRef: '' }, /sourceRef is empty/],
  ])('policy %j is a usage error', (policy, message) => {
    expect(() => compileGitHubPolicy(policy)).toThrow(message);
  });
});
