import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { isLadingError } from '../errors.js';
import { parsePolicy, PolicyError, type PolicyProblem } from './document.js';
import { checkCondition, findRule, valueAt } from './evaluate.js';
import { compilePattern, matchesPattern, matchSubject } from './match.js';

const digestA = `sha256:${'a'.repeat(64)}`;
const digestB = `sha256:${'b'.repeat(64)}`;

const sample = `version: 1
unmatched: deny
trustedRoot: roots/trusted_root.json
rules:
  - name: pinned
    match: ghcr.io/acme/app@${digestA}
    authorities:
      - key: { file: keys/release.pub }
  - name: acme
    match: ["ghcr.io/acme/**", "localhost:5000/app:v*"]
    mode: warn
    threshold: 2
    authorities:
      - name: ci
        keyless:
          issuer: https://token.actions.githubusercontent.com
          subjectRegExp: 'https://github\\.com/acme/.+'
          extensions: { sourceRepositoryURI: https://github.com/acme/app }
      - name: ops
        ssh:
          allowedSignersFile: allowed_signers
          principals: [alice@example.com]
      - name: inline-key
        key:
          pem: |
            -----BEGIN PUBLIC KEY-----
            MFkw
            -----END PUBLIC KEY-----
    attestations:
      - predicateType: https://slsa.dev/provenance/v1
        authorities: [ci]
        conditions:
          - path: buildDefinition.externalParameters.workflow.repository
            equals: https://github.com/acme/app
          - path: runDetails.builder.id
            matches: 'https://github\\.com/actions/runner/.+'
          - path: buildDefinition.buildType
            oneOf: [a, b]
`;

function problems(text: string): PolicyProblem[] {
  try {
    parsePolicy(text, 'p.yaml', { folder: '/policies' });
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    expect(isLadingError(error, 'ERR_LADING_USAGE')).toBe(true);
    return [...(error as PolicyError).problems];
  }
  throw new Error('the policy was accepted');
}

describe('parsePolicy', () => {
  it('reads every kind of authority, attestation conditions and defaults; paths resolve against the folder', () => {
    const policy = parsePolicy(sample, 'policy.yaml', { folder: '/policies' });
    expect(policy.unmatched).toBe('deny');
    expect(policy.trustedRoot).toBe(path.resolve('/policies/roots/trusted_root.json'));
    const [pinned, acme] = policy.rules;
    expect(pinned?.name).toBe('pinned');
    expect(pinned?.threshold).toBe(1);
    expect(pinned?.mode).toBe('enforce');
    expect(pinned?.authorities).toEqual([
      {
        kind: 'key',
        name: 'authorities[0]',
        key: { file: path.resolve('/policies/keys/release.pub') },
        source: { line: 8, field: 'rules[0].authorities[0]' },
      },
    ]);
    expect(acme?.mode).toBe('warn');
    expect(acme?.threshold).toBe(2);
    expect(acme?.source.line).toBe(9);
    expect(acme?.authorities.map((a) => [a.kind, a.name])).toEqual([
      ['keyless', 'ci'],
      ['ssh', 'ops'],
      ['key', 'inline-key'],
    ]);
    expect(acme?.authorities[0]).toMatchObject({
      issuer: 'https://token.actions.githubusercontent.com',
      subjectRegExp: 'https://github\\.com/acme/.+',
      extensions: { sourceRepositoryURI: 'https://github.com/acme/app' },
    });
    expect(acme?.authorities[1]).toMatchObject({
      allowedSigners: { file: path.resolve('/policies/allowed_signers') },
      principals: ['alice@example.com'],
    });
    expect(acme?.authorities[2]).toMatchObject({
      key: { inline: '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n' },
    });
    expect(acme?.attestations[0]?.authorities).toEqual(['ci']);
    expect(acme?.attestations[0]?.conditions.map((c) => c.source.line)).toEqual([33, 35, 37]);
  });

  it('reads the same document as JSON', () => {
    const json = JSON.stringify({
      version: 1,
      unmatched: 'allow',
      rules: [{ match: ['localhost:5000/**'], authorities: [{ key: { file: 'k.pub' } }] }],
    });
    const policy = parsePolicy(json, '/etc/lading/policy.json');
    expect(policy.unmatched).toBe('allow');
    expect(policy.rules[0]?.authorities[0]).toMatchObject({ key: { file: path.resolve('/etc/lading/k.pub') } });
    // Attestations default to any authority of the rule.
    const withAttestation = parsePolicy(
      `version: 1
rules:
  - match: localhost:5000/**
    authorities: [{ name: a, key: { file: k.pub } }, { name: b, key: { file: l.pub } }]
    attestations: [{ predicateType: "https://slsa.dev/provenance/v1" }]
`,
      'p.yaml',
    );
    expect(withAttestation.rules[0]?.attestations[0]?.authorities).toEqual(['a', 'b']);
  });

  it('names the line and field of each problem', () => {
    expect(problems('version: 2\nrules: []\n')).toEqual([{ line: 1, field: 'version', message: 'unsupported: 2' }]);
    expect(problems('rules: []\n')).toEqual([{ line: 1, field: 'version', message: 'required (version: 1)' }]);
    const found = problems(`version: 1
unmatched: maybe
rules:
  - match: nginx
    threshold: 4
    colour: red
    authorities:
      - keyless: { issuer: https://x, subjectRegExp: "(" }
      - key: { file: a.pub, pem: "x" }
      - ssh: { allowedSignersFile: s, principals: [] }
    attestations:
      - predicateType: slsa
        authorities: [nobody]
        conditions:
          - { path: a..b, equals: 1 }
          - { path: a, equals: 1, matches: x }
`);
    expect(found).toEqual([
      { line: 2, field: 'unmatched', message: 'one of deny, allow, warn' },
      {
        line: 6,
        field: 'rules[0].colour',
        message: 'unknown field (allowed: name, match, mode, threshold, authorities, attestations)',
      },
      {
        line: 4,
        field: 'rules[0].match',
        message: 'nginx: name the registry first (ghcr.io/acme/app, docker.io/library/nginx)',
      },
      {
        line: 8,
        field: 'rules[0].authorities[0].keyless.subjectRegExp',
        message: 'not a valid regular expression: Invalid regular expression: /^(?:()$/u: Unterminated group',
      },
      { line: 9, field: 'rules[0].authorities[1].key', message: 'give exactly one of file, pem' },
      { line: 10, field: 'rules[0].authorities[2].ssh.principals', message: 'at least one principal' },
      { line: 5, field: 'rules[0].threshold', message: '4 is more than the 3 authorities listed' },
      { line: 12, field: 'rules[0].attestations[0].predicateType', message: 'not a URI' },
      {
        line: 13,
        field: 'rules[0].attestations[0].authorities[0]',
        message: 'no authority of this rule is named "nobody"',
      },
      { line: 15, field: 'rules[0].attestations[0].conditions[0].path', message: 'an empty segment (write a.b.c)' },
      {
        line: 16,
        field: 'rules[0].attestations[0].conditions[1]',
        message: 'give exactly one of equals, matches, oneOf',
      },
    ]);
  });

  it('reports YAML syntax errors with their line, and the file in the message', () => {
    const found = problems('version: 1\nrules:\n  - match: [a\n');
    expect(found[0]).toMatchObject({ field: '(syntax)' });
    expect(found[0]?.line).toBeGreaterThanOrEqual(3);
    expect(() => parsePolicy('version: 1\nversion: 1\n', 'dup.yaml')).toThrow(
      /^policy dup\.yaml: invalid:\n {2}dup\.yaml:2: \(syntax\)/,
    );
  });

  it('refuses a threshold of 0 and duplicate authority names', () => {
    expect(
      problems(`version: 1
rules:
  - match: localhost:5000/**
    threshold: 0
    authorities:
      - { name: a, key: { file: k } }
      - { name: a, key: { file: l } }
`),
    ).toEqual([
      { line: 7, field: 'rules[0].authorities[1].name', message: 'a: a second authority of that name' },
      { line: 4, field: 'rules[0].threshold', message: 'a positive integer' },
    ]);
  });
});

describe('reference patterns', () => {
  const subject = (reference: string, ...digests: string[]) =>
    matchSubject(reference, digests.length ? digests : [digestB]);
  const matches = (pattern: string, reference: string, ...digests: string[]) =>
    matchesPattern(compilePattern(pattern), subject(reference, ...digests));

  it('** spans path components, * stays within one', () => {
    expect(matches('ghcr.io/acme/**', 'ghcr.io/acme/app:v1')).toBe(true);
    expect(matches('ghcr.io/acme/**', 'ghcr.io/acme/team/app:v1')).toBe(true);
    expect(matches('ghcr.io/acme/**', 'ghcr.io/acmex/app:v1')).toBe(false);
    expect(matches('ghcr.io/acme/*', 'ghcr.io/acme/team/app:v1')).toBe(false);
    expect(matches('ghcr.io/acme/*', 'ghcr.io/acme/app')).toBe(true);
    // Dots are literal, not "any character".
    expect(matches('reg.example.io/acme/app', 'regxexample.io/acme/app:v1')).toBe(false);
  });

  it('tag globs need a tag; a pattern without a tag covers every tag and digest', () => {
    expect(matches('localhost:5000/app:v*', 'localhost:5000/app:v1.2')).toBe(true);
    expect(matches('localhost:5000/app:v*', 'localhost:5000/app:latest')).toBe(false);
    expect(matches('localhost:5000/app:v*', `localhost:5000/app@${digestB}`)).toBe(false);
    expect(matches('localhost:5000/app', `localhost:5000/app@${digestB}`)).toBe(true);
    expect(matches('localhost:5000/app', 'localhost:5000/app2:v1')).toBe(false);
  });

  it('a digest pin matches the resolved digest, whatever tag was read; the platform manifest counts too', () => {
    expect(matches(`ghcr.io/acme/app@${digestA}`, 'ghcr.io/acme/app:v1', digestA)).toBe(true);
    expect(matches(`ghcr.io/acme/app@${digestA}`, 'ghcr.io/acme/app:v1', digestB)).toBe(false);
    expect(matches(`ghcr.io/acme/app@${digestA}`, 'ghcr.io/acme/app:v1', digestB, digestA)).toBe(true);
    expect(() => compilePattern('ghcr.io/acme/app@sha256:12')).toThrow(/not a digest/);
  });

  it('Docker Hub references are normalised before matching; layouts match as oci:<dir>', () => {
    expect(matches('docker.io/library/nginx:*', 'docker.io/library/nginx:1.27')).toBe(true);
    // Short forms are refused rather than guessed: a bare tag would read as a Docker Hub name.
    expect(() => subject('nginx:1.27')).toThrow(/not in normalised form \(docker\.io\/library\/nginx:1\.27\)/);
    expect(() => subject('v1')).toThrow(/not in normalised form/);
    expect(matches('oci:./out', 'oci:./out:v1')).toBe(true);
    expect(matches('oci:./out:v*', 'oci:./out:v1')).toBe(true);
    expect(matches('oci:./out:v*', 'oci:./out:w1')).toBe(false);
  });

  it('the first rule that matches wins', () => {
    const policy = parsePolicy(
      `version: 1
rules:
  - { name: pinned, match: "ghcr.io/acme/app@${digestA}", authorities: [{ key: { file: a } }] }
  - { name: app, match: "ghcr.io/acme/app:*", authorities: [{ key: { file: b } }] }
  - { name: all, match: "ghcr.io/**", authorities: [{ key: { file: c } }] }
`,
      'p.yaml',
    );
    expect(findRule(policy, 'ghcr.io/acme/app:v1', [digestA])?.rule.name).toBe('pinned');
    expect(findRule(policy, 'ghcr.io/acme/app:v1', [digestB])).toMatchObject({
      rule: { name: 'app' },
      pattern: 'ghcr.io/acme/app:*',
    });
    expect(findRule(policy, 'ghcr.io/other/x:v1', [digestB])?.rule.name).toBe('all');
    expect(findRule(policy, 'quay.io/x/y:v1', [digestB])).toBeUndefined();
  });
});

describe('predicate conditions', () => {
  const predicate = {
    buildDefinition: { externalParameters: { workflow: { repository: 'https://github.com/acme/app' } } },
    runDetails: { builder: { id: 'https://github.com/actions/runner/github-hosted' } },
    materials: [{ uri: 'git+https://x' }],
  };
  const at = { line: 1, field: 'c' };

  it('reads dotted paths, array indexes, and nothing through non-objects', () => {
    expect(valueAt(predicate, 'materials.0.uri')).toBe('git+https://x');
    expect(valueAt(predicate, 'runDetails.builder.id.length')).toBeUndefined();
    expect(valueAt(predicate, 'constructor')).toBeUndefined();
  });

  it('equals, anchored matches and oneOf', () => {
    const path = 'buildDefinition.externalParameters.workflow.repository';
    expect(checkCondition({ path, equals: 'https://github.com/acme/app', source: at }, predicate).met).toBe(true);
    expect(checkCondition({ path, equals: 'https://github.com/acme/other', source: at }, predicate)).toEqual({
      path,
      test: 'equals "https://github.com/acme/other"',
      met: false,
      actual: '"https://github.com/acme/app"',
    });
    expect(
      checkCondition(
        { path: 'runDetails.builder.id', matches: 'https://github\\.com/actions/.+', source: at },
        predicate,
      ).met,
    ).toBe(true);
    // Anchored: a prefix match is not enough.
    expect(
      checkCondition({ path: 'runDetails.builder.id', matches: 'https://github\\.com/actions', source: at }, predicate)
        .met,
    ).toBe(false);
    expect(checkCondition({ path, oneOf: ['x', 'https://github.com/acme/app'], source: at }, predicate).met).toBe(true);
    expect(checkCondition({ path: 'missing', oneOf: ['x'], source: at }, predicate)).toEqual({
      path: 'missing',
      test: 'one of ["x"]',
      met: false,
    });
  });
});
