import { describe, expect, it } from 'vitest';
import {
  BuildTypeGitHubActionsWorkflow,
  BuildTypeSLSAGitHubActionsWorkflow,
  checkProvenanceAgainstCertificate,
} from './slsa.js';

const sha = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const generator =
  'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.0.0';

/** The certificate extensions of a tag build of acme/app by release.yml on a GitHub-hosted runner. */
const extensions = {
  sourceRepositoryURI: 'https://github.com/acme/app',
  sourceRepositoryRef: 'refs/tags/v1',
  sourceRepositoryDigest: sha,
  buildConfigURI: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1',
  buildSignerURI: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1',
  runnerEnvironment: 'github-hosted',
  buildTrigger: 'push',
  sourceRepositoryIdentifier: '123',
  sourceRepositoryOwnerIdentifier: '456',
  runInvocationURI: 'https://github.com/acme/app/actions/runs/9/attempts/1',
};

/** The provenance actions/attest-build-provenance writes for that run. */
function provenance(buildType = BuildTypeGitHubActionsWorkflow): Record<string, unknown> {
  return {
    buildDefinition: {
      buildType,
      externalParameters: {
        workflow: {
          ref: 'refs/tags/v1',
          repository: 'https://github.com/acme/app',
          path: '.github/workflows/release.yml',
        },
      },
      internalParameters: {
        github: {
          event_name: 'push',
          repository_id: '123',
          repository_owner_id: '456',
          runner_environment: 'github-hosted',
        },
      },
      resolvedDependencies: [{ uri: 'git+https://github.com/acme/app@refs/tags/v1', digest: { gitCommit: sha } }],
    },
    runDetails: {
      builder: {
        id:
          buildType === BuildTypeGitHubActionsWorkflow ? 'https://github.com/actions/runner/github-hosted' : generator,
      },
      metadata: { invocationId: 'https://github.com/acme/app/actions/runs/9/attempts/1' },
    },
  };
}

/** `provenance()` with the value at `path` (dotted) replaced. */
function changed(path: string, value: unknown, buildType?: string): Record<string, unknown> {
  const p = provenance(buildType);
  const keys = path.split('.');
  let at = p;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[keys.at(-1) ?? ''] = value;
  return p;
}

describe('SLSA provenance against its certificate', () => {
  it('accepts both GitHub build types when every fact agrees (names in any case)', () => {
    expect(() => {
      checkProvenanceAgainstCertificate(provenance(), extensions);
    }).not.toThrow();
    const generated = provenance(BuildTypeSLSAGitHubActionsWorkflow);
    expect(() => {
      checkProvenanceAgainstCertificate(generated, { ...extensions, buildSignerURI: generator });
    }).not.toThrow();
    const upper = changed('buildDefinition.externalParameters.workflow.repository', 'https://github.com/ACME/App');
    expect(() => {
      checkProvenanceAgainstCertificate(upper, extensions);
    }).not.toThrow();
    // A fact the certificate does not state is no disagreement.
    expect(() => {
      checkProvenanceAgainstCertificate(provenance(), { sourceRepositoryURI: extensions.sourceRepositoryURI });
    }).not.toThrow();
  });

  it.each([
    ['buildDefinition.externalParameters.workflow.repository', 'https://github.com/evil/app', 'sourceRepositoryURI'],
    ['buildDefinition.externalParameters.workflow.ref', 'refs/heads/main', 'sourceRepositoryRef'],
    ['buildDefinition.externalParameters.workflow.path', '.github/workflows/other.yml', 'buildConfigURI'],
    ['buildDefinition.internalParameters.github.runner_environment', 'self-hosted', 'runnerEnvironment'],
    ['buildDefinition.internalParameters.github.event_name', 'workflow_dispatch', 'buildTrigger'],
    ['buildDefinition.internalParameters.github.repository_id', '999', 'sourceRepositoryIdentifier'],
    ['buildDefinition.internalParameters.github.repository_owner_id', '999', 'sourceRepositoryOwnerIdentifier'],
    ['runDetails.metadata.invocationId', 'https://github.com/acme/app/actions/runs/1/attempts/1', 'runInvocationURI'],
    ['runDetails.builder.id', 'https://github.com/actions/runner/self-hosted', 'runnerEnvironment'],
  ])('refuses %s disagreeing with the certificate', (path, value, extension) => {
    expect(() => {
      checkProvenanceAgainstCertificate(changed(path, value), extensions);
    }).toThrow(
      // The path is checked as part of the workflow URI (repository/path@ref).
      new RegExp(
        `SLSA provenance ${path.replace(/\.path$/, '').replace(/\./g, '\\.')}.* disagrees with the certificate's ${extension} `,
      ),
    );
  });

  it('refuses another commit, an unknown build type or builder, and malformed predicates', () => {
    const commit = changed('buildDefinition.resolvedDependencies', [
      { uri: 'git+x', digest: { gitCommit: '0'.repeat(40) } },
    ]);
    expect(() => {
      checkProvenanceAgainstCertificate(commit, extensions);
    }).toThrow(
      /resolvedDependencies\[\]\.digest\.gitCommit "0{40}" disagrees with the certificate's sourceRepositoryDigest/,
    );
    expect(() => {
      checkProvenanceAgainstCertificate(changed('buildDefinition.buildType', 'https://example.com/build'), extensions);
    }).toThrow(/buildDefinition\.buildType "https:\/\/example\.com\/build" is not a GitHub Actions build type/);
    expect(() => {
      checkProvenanceAgainstCertificate(changed('runDetails.builder.id', 'https://ci.example/builder'), extensions);
    }).toThrow(/runDetails\.builder\.id "https:\/\/ci\.example\/builder" is not a GitHub Actions runner/);
    const generated = changed('runDetails.builder.id', `${generator}x`, BuildTypeSLSAGitHubActionsWorkflow);
    expect(() => {
      checkProvenanceAgainstCertificate(generated, { ...extensions, buildSignerURI: generator });
    }).toThrow(/runDetails\.builder\.id .* disagrees with the certificate's buildSignerURI/);
    expect(() => {
      checkProvenanceAgainstCertificate(changed('runDetails.builder', {}), extensions);
    }).toThrow(/builder\.id is missing/);
    expect(() => {
      checkProvenanceAgainstCertificate(changed('buildDefinition.externalParameters.workflow.ref', 7), extensions);
    }).toThrow(/workflow\.ref is not a string: 7/);
    expect(() => {
      checkProvenanceAgainstCertificate([], extensions);
    }).toThrow(/not a JSON object/);
  });
});
