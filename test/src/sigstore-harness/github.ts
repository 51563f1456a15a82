/**
 * GitHub Actions runs for the harness: the OIDC token claims GitHub gives a workflow run, which the harness Fulcio
 * turns into the Fulcio extensions GitHub certificates carry (OIDs 1.3.6.1.4.1.57264.1.8–.22: issuer, build signer
 * URI and digest, runner environment, source repository URI/digest/ref/identifier, owner URI/identifier, build config
 * URI/digest, trigger, run invocation URI, visibility), and the SLSA v1 provenance GitHub writes for that run
 * (`actions/attest-build-provenance`, or the older SLSA GitHub generator build type).
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';

/** The OIDC issuer of GitHub Actions tokens. */
export const GitHubActionsIssuer = 'https://token.actions.githubusercontent.com';

/** One GitHub Actions run: what its token says, and so what Fulcio certifies. */
export interface GitHubRun {
  /** `owner/repo` the run is in. */
  repository: string;
  /** The git ref built, e.g. `refs/tags/v1` or `refs/heads/main`. */
  ref: string;
  /** The commit built (40 hex). */
  sha: string;
  /** The top-level workflow file, e.g. `.github/workflows/release.yml`. */
  workflowPath: string;
  /**
   * The workflow that signed, `owner/repo/path@ref` (a reusable workflow). Default the top-level workflow at `ref`.
   */
  jobWorkflowRef?: string;
  /** `github-hosted` (default) or `self-hosted`. */
  runnerEnvironment?: string;
  /** Event that started the run. Default `push`. */
  event?: string;
  /** Run id. Default `4242`. */
  runId?: string;
}

const repositoryId = '123456';
const ownerId = '7890';

/** The token claims GitHub Actions gives `run` (as Fulcio reads them, see fulcio.ts). */
export function githubActionsClaims(run: GitHubRun): Record<string, string> {
  const [owner = ''] = run.repository.split('/');
  const workflowRef = `${run.repository}/${run.workflowPath}@${run.ref}`;
  return {
    iss: GitHubActionsIssuer,
    sub: `repo:${run.repository}:ref:${run.ref}`,
    repository: run.repository,
    repository_id: repositoryId,
    repository_owner: owner,
    repository_owner_id: ownerId,
    repository_visibility: 'public',
    ref: run.ref,
    sha: run.sha,
    event_name: run.event ?? 'push',
    workflow: 'release',
    workflow_ref: workflowRef,
    workflow_sha: run.sha,
    job_workflow_ref: run.jobWorkflowRef ?? workflowRef,
    job_workflow_sha: run.sha,
    runner_environment: run.runnerEnvironment ?? 'github-hosted',
    run_id: run.runId ?? '4242',
    run_attempt: '1',
  };
}

/**
 * An RS256 JWT with {@link githubActionsClaims} (audience `sigstore`, valid ten minutes) that the harness Fulcio
 * certifies as GitHub's Fulcio would: identity `https://github.com/<job_workflow_ref>` and the GitHub extensions.
 */
export function githubActionsToken(run: GitHubRun): string {
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    ...githubActionsClaims(run),
    aud: 'sigstore',
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: randomUUID(),
  };
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** The build type of `actions/attest-build-provenance`. */
export const BuildTypeActions = 'https://actions.github.io/buildtypes/workflow/v1';
/** The build type of the SLSA GitHub generator. */
export const BuildTypeSLSAGenerator = 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1';

/**
 * The SLSA v1 provenance predicate GitHub writes for `run`: with {@link BuildTypeActions} (default) the builder is
 * the runner (`https://github.com/actions/runner/<runner environment>`); with {@link BuildTypeSLSAGenerator} it is
 * the workflow that signed (the generator's reusable workflow).
 */
export function githubProvenance(run: GitHubRun, buildType = BuildTypeActions): Record<string, unknown> {
  const claims = githubActionsClaims(run);
  const builder =
    buildType === BuildTypeActions
      ? `https://github.com/actions/runner/${claims.runner_environment}`
      : `https://github.com/${claims.job_workflow_ref}`;
  return {
    buildDefinition: {
      buildType,
      externalParameters: {
        workflow: { ref: run.ref, repository: `https://github.com/${run.repository}`, path: run.workflowPath },
      },
      internalParameters: {
        github: {
          event_name: claims.event_name,
          repository_id: repositoryId,
          repository_owner_id: ownerId,
          runner_environment: claims.runner_environment,
        },
      },
      resolvedDependencies: [
        { uri: `git+https://github.com/${run.repository}@${run.ref}`, digest: { gitCommit: run.sha } },
      ],
    },
    runDetails: {
      builder: { id: builder },
      metadata: { invocationId: `https://github.com/${run.repository}/actions/runs/${claims.run_id}/attempts/1` },
    },
  };
}
