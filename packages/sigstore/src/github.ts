/**
 * GitHub artifact attestations, checked as `gh attestation verify` checks them (identity rules of gh 2.x,
 * pkg/cmd/attestation/verify), plus lading's own check that an SLSA predicate agrees with its certificate.
 */
import { ErrorCodes, LadingError, type VerifiedSignature } from '@lading/core';
import { anchoredRegExp, type CertificateIdentity } from './identity-policy.js';
import { PredicateTypeSLSAProvenanceV1 } from './media-types.js';
import { checkProvenanceAgainstCertificate } from './slsa.js';

/** The OIDC issuer of GitHub Actions' tokens (github.com). */
export const GitHubActionsIssuer = 'https://token.actions.githubusercontent.com';

/** The runner environment a GitHub-hosted runner's certificate states (Fulcio extension `runnerEnvironment`). */
export const GitHubHostedRunner = 'github-hosted';

/**
 * What a GitHub attestation must show, as `gh attestation verify` options. Give `repository` or `owner`.
 * Owner and repository names compare without case (GitHub's names are case-insensitive); workflows, refs and
 * digests compare exactly (digests without case).
 */
export interface GitHubAttestationPolicy {
  /** `owner/repo`: the certificate's source repository must be `https://github.com/owner/repo` (gh `--repo`). */
  repository?: string;
  /** `owner`: the certificate's source repository owner must be `https://github.com/owner` (gh `--owner`). */
  owner?: string;
  /**
   * The workflow that signed (gh `--signer-workflow`): `owner/repo/path/to/workflow.yml` (at any ref) or with
   * `@ref` (that ref only); a leading `github.com/` or `https://github.com/` is allowed. The certificate identity must
   * be that workflow's URI. Exclusive with `signerRepository`, `certIdentity` and `certIdentityRegExp`.
   */
  signerWorkflow?: string;
  /**
   * `owner/repo` of the workflow that signed (gh `--signer-repo`): a reusable workflow of another repository.
   * Exclusive with the other signer options.
   */
  signerRepository?: string;
  /**
   * The certificate identity (SAN) exactly (gh `--cert-identity`), e.g.
   * `https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1`. Exclusive with the other signer options.
   */
  certIdentity?: string;
  /**
   * A JavaScript regular expression the whole certificate identity (SAN) must match (gh `--cert-identity-regex`),
   * anchored at both ends like every lading pattern (gh's matches anywhere unless you anchor it), e.g.
   * `https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/v.*`. Exclusive with the other signer
   * options.
   */
  certIdentityRegExp?: string;
  /** The source ref the run built, exactly (gh `--source-ref`), e.g. `refs/tags/v1.2.0`. */
  sourceRef?: string;
  /** The source commit the run built (gh `--source-digest`), compared without case. */
  sourceDigest?: string;
  /** The commit of the signer workflow (gh `--signer-digest`), compared without case. */
  signerDigest?: string;
  /** Refuse runs on self-hosted runners: the certificate's runner environment must be `github-hosted`. Default false. */
  denySelfHostedRunners?: boolean;
  /** The OIDC issuer, exactly. Default {@link GitHubActionsIssuer}. */
  issuer?: string;
}

/** A compiled {@link GitHubAttestationPolicy}: the identity the verifier matches first, then the full check. */
export interface GitHubCheck {
  /** The issuer (exact) and any identity under it: the rest is {@link GitHubCheck.check}'s. */
  identity: CertificateIdentity;
  /**
   * Throws a plain `Error` naming the field that fails, for a signature that passed every other check: the
   * certificate identity and extensions by gh's rules, then, for an SLSA v1 statement, the predicate against the
   * certificate (see `checkProvenanceAgainstCertificate`).
   */
  check(signature: VerifiedSignature): void;
}

const ownerShape = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const repositoryShape = /^[A-Za-z0-9-]+\/[\w.-]+$/;
const workflowShape = /^([A-Za-z0-9-]+\/[\w.-]+)\/([^@\s]+)(?:@(\S+))?$/;

/**
 * Compiles `policy`; throws `ERR_LADING_USAGE` for neither or both of `repository` and `owner`, more than one signer
 * option, a malformed owner, repository, workflow or regular expression, or an empty value.
 *
 * The certificate identity (SAN) must be, like gh: with `signerWorkflow`, that workflow's URI
 * `https://github.com/<owner>/<repo>/<path>@<ref>` (the ref pinned when given, any ref otherwise); with
 * `signerRepository`, a workflow of that repository (`https://github.com/<signer repo>/…`, any case); with
 * `certIdentity`, that value exactly; with `certIdentityRegExp`, a whole match of it; otherwise a workflow of
 * `repository` (or of `owner`'s repositories). The certificate must state source repository owner
 * `https://github.com/<owner>` (the owner of `repository` when only that is given), and with `repository` source
 * repository `https://github.com/<repository>`.
 */
export function compileGitHubPolicy(policy: GitHubAttestationPolicy): GitHubCheck {
  const usage = (why: string) => new LadingError(ErrorCodes.usage, `github policy: ${why}`);
  for (const [name, value] of Object.entries(policy) as [string, unknown][]) {
    if (value === '') throw usage(`${name} is empty`);
  }
  if ((policy.repository === undefined) === (policy.owner === undefined)) {
    throw usage('give the repository (owner/repo) or the owner whose attestations to accept, not both');
  }
  const signers = (['signerWorkflow', 'signerRepository', 'certIdentity', 'certIdentityRegExp'] as const).filter(
    (name) => policy[name] !== undefined,
  );
  if (signers.length > 1) {
    // As gh: --cert-identity, --cert-identity-regex, --signer-repo and --signer-workflow are mutually exclusive.
    throw usage(
      `give one of signerWorkflow, signerRepository, certIdentity and certIdentityRegExp, not ${signers.join(' and ')}`,
    );
  }
  if (policy.repository !== undefined && !repositoryShape.test(policy.repository)) {
    throw usage(`repository ${JSON.stringify(policy.repository)} is not owner/repo`);
  }
  if (policy.owner !== undefined && !ownerShape.test(policy.owner)) {
    throw usage(`owner ${JSON.stringify(policy.owner)} is not a GitHub account name`);
  }
  if (policy.signerRepository !== undefined && !repositoryShape.test(policy.signerRepository)) {
    throw usage(`signerRepository ${JSON.stringify(policy.signerRepository)} is not owner/repo`);
  }
  const owner = policy.owner ?? policy.repository?.split('/')[0] ?? '';
  const issuer = policy.issuer ?? GitHubActionsIssuer;
  const signer = signerRule(policy, usage);
  const required: { name: string; expected: string; compare: (a: string, b: string) => boolean; flag: string }[] = [
    {
      name: 'sourceRepositoryOwnerURI',
      expected: `https://github.com/${owner}`,
      compare: sameIgnoringCase,
      flag: 'owner',
    },
  ];
  if (policy.repository !== undefined) {
    required.push({
      name: 'sourceRepositoryURI',
      expected: `https://github.com/${policy.repository}`,
      compare: sameIgnoringCase,
      flag: 'repository',
    });
  }
  if (policy.sourceRef !== undefined) {
    required.push({ name: 'sourceRepositoryRef', expected: policy.sourceRef, compare: same, flag: 'source ref' });
  }
  if (policy.sourceDigest !== undefined) {
    required.push({
      name: 'sourceRepositoryDigest',
      expected: policy.sourceDigest,
      compare: sameIgnoringCase,
      flag: 'source digest',
    });
  }
  if (policy.signerDigest !== undefined) {
    required.push({
      name: 'buildSignerDigest',
      expected: policy.signerDigest,
      compare: sameIgnoringCase,
      flag: 'signer digest',
    });
  }
  if (policy.denySelfHostedRunners === true) {
    required.push({
      name: 'runnerEnvironment',
      expected: GitHubHostedRunner,
      compare: same,
      flag: 'self-hosted runners denied',
    });
  }
  return {
    identity: { issuer, subjectRegExp: '.+' },
    check(signature) {
      const extensions = signature.extensions ?? {};
      const san = signature.identity;
      if (san === undefined)
        throw new Error('the signature has no certificate identity: a GitHub attestation is keyless');
      const why = signer.mismatch(san);
      if (why !== undefined) throw new Error(why);
      for (const r of required) {
        const actual = Object.hasOwn(extensions, r.name) ? extensions[r.name] : undefined;
        if (actual === undefined || !r.compare(actual, r.expected)) {
          throw new Error(
            `certificate extension ${r.name} ${actual === undefined ? '(none)' : JSON.stringify(actual)} is not ${JSON.stringify(r.expected)} (${r.flag})`,
          );
        }
      }
      if (signature.predicateType === PredicateTypeSLSAProvenanceV1) {
        const statement = signature.statement;
        if (statement === undefined) throw new Error('the SLSA provenance signature carries no in-toto statement');
        checkProvenanceAgainstCertificate(statement.predicate, extensions);
      }
    },
  };
}

interface SignerRule {
  /** Why the certificate identity (SAN) is not an allowed signer, or undefined when it is. */
  mismatch(san: string): string | undefined;
}

function signerRule(policy: GitHubAttestationPolicy, usage: (why: string) => LadingError): SignerRule {
  const { certIdentity, certIdentityRegExp } = policy;
  if (certIdentity !== undefined) {
    return {
      mismatch: (san) =>
        san === certIdentity
          ? undefined
          : `certificate identity ${JSON.stringify(san)} is not ${JSON.stringify(certIdentity)} (cert identity)`,
    };
  }
  if (certIdentityRegExp !== undefined) {
    let pattern: RegExp;
    try {
      pattern = anchoredRegExp(certIdentityRegExp, 'certIdentityRegExp');
    } catch (e) {
      throw usage(
        `certIdentityRegExp ${JSON.stringify(certIdentityRegExp)} is not a regular expression: ${(e as Error).message.replace(/^policy certIdentityRegExp: /, '')}`,
      );
    }
    return {
      mismatch: (san) =>
        pattern.test(san)
          ? undefined
          : `certificate identity ${JSON.stringify(san)} does not match ${JSON.stringify(certIdentityRegExp)} (cert identity regexp, whole value)`,
    };
  }
  if (policy.signerWorkflow !== undefined) {
    const bare = policy.signerWorkflow.replace(/^(?:https:\/\/)?github\.com\//, '');
    const match = workflowShape.exec(bare);
    if (match === null) {
      throw usage(
        `signerWorkflow ${JSON.stringify(policy.signerWorkflow)} is not owner/repo/path/to/workflow.yml[@ref]`,
      );
    }
    const [, repository = '', path = '', ref] = match;
    const uri = `https://github.com/${repository}/${path}`;
    if (ref !== undefined) {
      const pinned = `${uri}@${ref}`;
      return {
        mismatch: (san) =>
          san === pinned
            ? undefined
            : `certificate identity ${JSON.stringify(san)} is not the signer workflow ${JSON.stringify(pinned)}`,
      };
    }
    return {
      mismatch: (san) =>
        san.startsWith(`${uri}@`) && san.length > uri.length + 1
          ? undefined
          : `certificate identity ${JSON.stringify(san)} is not the signer workflow ${JSON.stringify(uri)} at any ref (${JSON.stringify(`${uri}@<ref>`)})`,
    };
  }
  const [what, name] =
    policy.signerRepository !== undefined
      ? ['signer repository', policy.signerRepository]
      : policy.repository !== undefined
        ? ['repository', policy.repository]
        : ['owner', policy.owner ?? ''];
  const prefix = `https://github.com/${name}/`;
  return {
    mismatch: (san) =>
      san.toLowerCase().startsWith(prefix.toLowerCase()) && san.length > prefix.length
        ? undefined
        : `certificate identity ${JSON.stringify(san)} is not a workflow of the ${what} ${JSON.stringify(name)} (${JSON.stringify(`${prefix}…`)}, any case)`,
  };
}

function same(a: string, b: string): boolean {
  return a === b;
}

function sameIgnoringCase(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
