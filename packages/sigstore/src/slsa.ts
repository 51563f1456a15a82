/**
 * SLSA v1 provenance written by GitHub Actions (`actions/attest-build-provenance`, the SLSA GitHub generator), and the
 * check lading makes beyond `gh attestation verify`: where the predicate and the signing certificate both state a
 * fact (repository, workflow, ref, commit, runner, run), they must agree.
 * https://slsa.dev/spec/v1.0/provenance, https://actions.github.io/buildtypes/workflow/v1
 */

/** The build type `actions/attest-build-provenance` writes (GitHub's own). */
export const BuildTypeGitHubActionsWorkflow = 'https://actions.github.io/buildtypes/workflow/v1';

/** The older build type of the SLSA GitHub generator (slsa-framework/slsa-github-generator). */
export const BuildTypeSLSAGitHubActionsWorkflow =
  'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1';

/** The GitHub Actions build types lading reads, in the order above. */
export const GitHubBuildTypes: readonly string[] = [BuildTypeGitHubActionsWorkflow, BuildTypeSLSAGitHubActionsWorkflow];

/**
 * The builder ids of {@link BuildTypeGitHubActionsWorkflow}, by the runner environment the certificate states
 * (Fulcio extension `runnerEnvironment`).
 */
export const GitHubRunnerBuilderIds: Readonly<Record<string, string>> = {
  'github-hosted': 'https://github.com/actions/runner/github-hosted',
  'self-hosted': 'https://github.com/actions/runner/self-hosted',
};

/** One fact stated by both sides: the predicate's JSON path and the certificate extension it must agree with. */
interface Correspondence {
  /** Dotted JSON path in the predicate, for messages. */
  path: string;
  /** The predicate's value, or undefined when it does not state this fact. */
  value: (predicate: Provenance) => unknown;
  /** The Fulcio extension name (as `VerifiedSignature.extensions` has it). */
  extension: string;
  /** How to compare; default exact. GitHub owner and repository names are case-insensitive. */
  compare?: (predicate: string, certificate: string) => boolean;
}

type Provenance = Record<string, unknown>;

const sameIgnoringCase = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

const workflow = (p: Provenance): Record<string, unknown> | undefined =>
  record(record(record(p.buildDefinition)?.externalParameters)?.workflow);
const github = (p: Provenance): Record<string, unknown> | undefined =>
  record(record(record(p.buildDefinition)?.internalParameters)?.github);

/**
 * What GitHub's provenance and Fulcio's certificate both say about a run. The build config URI is the top-level
 * workflow (`<repository>/<path>@<ref>`), which the provenance states as `externalParameters.workflow`; the signer
 * may be a reusable workflow, stated by the certificate alone (and, for the SLSA generator, as the builder id).
 */
const correspondences: readonly Correspondence[] = [
  {
    path: 'buildDefinition.externalParameters.workflow.repository',
    value: (p) => workflow(p)?.repository,
    extension: 'sourceRepositoryURI',
    compare: sameIgnoringCase,
  },
  {
    path: 'buildDefinition.externalParameters.workflow.ref',
    value: (p) => workflow(p)?.ref,
    extension: 'sourceRepositoryRef',
  },
  {
    path: 'buildDefinition.externalParameters.workflow (repository/path@ref)',
    value: (p) => {
      const w = workflow(p);
      if (typeof w?.repository !== 'string' || typeof w.path !== 'string' || typeof w.ref !== 'string')
        return undefined;
      return `${w.repository}/${w.path}@${w.ref}`;
    },
    extension: 'buildConfigURI',
    compare: sameIgnoringCase,
  },
  {
    path: 'buildDefinition.internalParameters.github.runner_environment',
    value: (p) => github(p)?.runner_environment,
    extension: 'runnerEnvironment',
  },
  {
    path: 'buildDefinition.internalParameters.github.event_name',
    value: (p) => github(p)?.event_name,
    extension: 'buildTrigger',
  },
  {
    path: 'buildDefinition.internalParameters.github.repository_id',
    value: (p) => github(p)?.repository_id,
    extension: 'sourceRepositoryIdentifier',
  },
  {
    path: 'buildDefinition.internalParameters.github.repository_owner_id',
    value: (p) => github(p)?.repository_owner_id,
    extension: 'sourceRepositoryOwnerIdentifier',
  },
  {
    path: 'runDetails.metadata.invocationId',
    value: (p) => record(record(p.runDetails)?.metadata)?.invocationId,
    extension: 'runInvocationURI',
    compare: sameIgnoringCase,
  },
];

/**
 * Checks a verified SLSA v1 predicate written by GitHub Actions against the signing certificate's Fulcio extensions
 * (by name, as `VerifiedSignature.extensions`). Throws a plain `Error` naming the field when:
 *
 * - the predicate is not an object, or its `buildDefinition.buildType` is not one of {@link GitHubBuildTypes};
 * - `runDetails.builder.id` is missing; for {@link BuildTypeGitHubActionsWorkflow} it must be one of
 *   {@link GitHubRunnerBuilderIds}, the one of the certificate's `runnerEnvironment` when it states one; for the SLSA
 *   generator's type it must be the certificate's `buildSignerURI` (the generator is the workflow that signed);
 * - a fact both state disagrees: workflow repository (`sourceRepositoryURI`), ref (`sourceRepositoryRef`), the
 *   workflow as `repository/path@ref` (`buildConfigURI`), runner environment, event, repository and owner ids, run
 *   invocation; owner and repository names compare without case, as on GitHub;
 * - the commit: when the certificate states `sourceRepositoryDigest`, a `resolvedDependencies` entry with a
 *   `gitCommit` digest must name that commit (the provenance names the source by its git commit).
 *
 * A fact only one side states is not a disagreement. A predicate field holding something other than a string where
 * a string is expected is refused.
 */
export function checkProvenanceAgainstCertificate(
  predicate: unknown,
  extensions: Readonly<Record<string, string>>,
): void {
  const p = record(predicate);
  if (p === undefined) throw new Error('the SLSA provenance predicate is not a JSON object');
  const buildType = record(p.buildDefinition)?.buildType;
  if (typeof buildType !== 'string' || !GitHubBuildTypes.includes(buildType)) {
    throw new Error(
      `SLSA provenance buildDefinition.buildType ${quote(buildType)} is not a GitHub Actions build type (${GitHubBuildTypes.join(', ')})`,
    );
  }
  const cert = (name: string): string | undefined => (Object.hasOwn(extensions, name) ? extensions[name] : undefined);
  checkBuilder(p, buildType, cert);
  for (const c of correspondences) {
    const value = c.value(p);
    const stated = cert(c.extension);
    if (value === undefined || stated === undefined) continue;
    if (typeof value !== 'string') throw new Error(`SLSA provenance ${c.path} is not a string: ${quote(value)}`);
    if (!(c.compare ?? ((a, b) => a === b))(value, stated)) throw disagreement(c.path, value, c.extension, stated);
  }
  checkCommit(p, cert('sourceRepositoryDigest'));
}

function checkBuilder(p: Provenance, buildType: string, cert: (name: string) => string | undefined): void {
  const id = record(record(p.runDetails)?.builder)?.id;
  if (typeof id !== 'string' || id === '') {
    throw new Error(`SLSA provenance runDetails.builder.id is missing or not a string: ${quote(id)}`);
  }
  if (buildType === BuildTypeGitHubActionsWorkflow) {
    const known = Object.values(GitHubRunnerBuilderIds);
    if (!known.includes(id)) {
      throw new Error(
        `SLSA provenance runDetails.builder.id ${quote(id)} is not a GitHub Actions runner (${known.join(', ')})`,
      );
    }
    const runner = cert('runnerEnvironment');
    const expected = runner === undefined ? undefined : GitHubRunnerBuilderIds[runner];
    if (runner !== undefined && expected !== id) {
      throw disagreement('runDetails.builder.id', id, 'runnerEnvironment', runner);
    }
    return;
  }
  const signer = cert('buildSignerURI');
  if (signer !== undefined && signer !== id) throw disagreement('runDetails.builder.id', id, 'buildSignerURI', signer);
}

function checkCommit(p: Provenance, digest: string | undefined): void {
  if (digest === undefined) return;
  const dependencies = record(p.buildDefinition)?.resolvedDependencies;
  if (dependencies === undefined) return;
  if (!Array.isArray(dependencies))
    throw new Error('SLSA provenance buildDefinition.resolvedDependencies is not a list');
  const commits = dependencies.flatMap((d: unknown) => {
    const commit = record(record(d)?.digest)?.gitCommit;
    return typeof commit === 'string' ? [commit] : [];
  });
  if (commits.length > 0 && !commits.some((c) => c.toLowerCase() === digest.toLowerCase())) {
    throw disagreement(
      'buildDefinition.resolvedDependencies[].digest.gitCommit',
      commits.join(', '),
      'sourceRepositoryDigest',
      digest,
    );
  }
}

function disagreement(path: string, value: string, extension: string, stated: string): Error {
  return new Error(
    `SLSA provenance ${path} ${quote(value)} disagrees with the certificate's ${extension} ${quote(stated)}: the predicate does not describe the run that signed it`,
  );
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function quote(value: unknown): string {
  return value === undefined ? '(none)' : JSON.stringify(value);
}
