import {
  ErrorCodes,
  formatPlatform,
  formatTarget,
  LadingError,
  openTarget,
  parseTarget,
  signArtifact,
  type Platform,
} from '@lading/core';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../base-command.js';
import { createSignerFromFlags } from '../signer-from-flags.js';
import { signingFlags } from '../signing-flags.js';
import { signatureJSON, type SignatureJSON } from './push.js';

/** One manifest `lading sign` signed, in `lading sign --json`. */
export interface SignedManifestJSON {
  /** The signed manifest by digest: `host/repo@sha256:…` or `oci:<dir>@sha256:…`. */
  reference: string;
  /** The signed manifest's digest. */
  digest: string;
  /** The manifest's media type (an image index or a manifest). */
  mediaType: string;
  /** With `--recursive`: the platform the index gives this manifest, when it gives one. */
  platform?: Platform;
  /** The signature attached as a referrer of this manifest. */
  signature: SignatureJSON;
}

/** What `lading sign --json` prints. */
export interface SignCommandResult {
  /** The signed manifest (or image index) the reference names, by digest. */
  reference: string;
  /** Its digest. */
  digest: string;
  /** The signature attached as a referrer of it. */
  signature: SignatureJSON;
  /**
   * Every signature made, the reference's own first; with `--recursive` on an image index, then one per manifest the
   * index lists (nested indexes included).
   */
  signatures: SignedManifestJSON[];
  /** With `--tag`: the tags now pointing at the signed manifest, moved after every signature was attached. */
  tags?: string[];
}

/** `lading sign`: signs an artifact already in a registry or layout and attaches the signature as a referrer. */
export class Sign extends RegistryCommand<typeof Sign> {
  static override summary = 'Sign an artifact that is already pushed, and attach the signature as a referrer.';
  static override description = `Resolves the reference to its manifest, signs the manifest digest (a cosign 3 Sigstore bundle: DSSE over an in-toto statement) with --key or keyless, and attaches the bundle as an OCI referrer of the manifest, where cosign verify and lading pull --verify-* find it. With --ssh-key or --ssh-agent, the signature is an SSHSIG over the in-toto statement instead (statement.json and statement.json.sig, which ssh-keygen -Y verify checks and lading pull --allowed-signers requires).

For a multi-platform artifact (an image index), only the index is signed, as cosign does; with --recursive, every manifest the index lists (and those of nested indexes) is signed too, each signature a referrer of its own manifest.

With --tag, the tags are pointed at the manifest only after every signature is attached (push --sign suggests this command when it pushed but could not sign).

The signature's referrer digest is printed on standard output (one line per signature, the reference's own first).`;

  static override examples = [
    {
      description: 'Sign with a cosign key (password from COSIGN_PASSWORD).',
      command: '<%= config.bin %> sign --key cosign.key ghcr.io/acme/config:v1',
    },
    {
      description: 'Sign keylessly in CI (identity token from SIGSTORE_ID_TOKEN, GitHub Actions or Buildkite).',
      command: '<%= config.bin %> sign ghcr.io/acme/config@sha256:4f1c…',
    },
    {
      description: 'Sign an artifact pushed by digest, then point v1 at it.',
      command: '<%= config.bin %> sign --key cosign.key --tag v1 ghcr.io/acme/config@sha256:4f1c…',
    },
    {
      description: 'Sign with an SSH key: an SSHSIG that ssh-keygen -Y verify checks (namespace lading).',
      command: '<%= config.bin %> sign --ssh-key ~/.ssh/id_ed25519 ghcr.io/acme/config:v1',
    },
    {
      description: 'Sign with the one key ssh-agent holds with this fingerprint.',
      command: '<%= config.bin %> sign --ssh-agent --ssh-key-fingerprint SHA256:… ghcr.io/acme/config:v1',
    },
    {
      description: 'Sign a multi-platform artifact: the index and each platform manifest.',
      command: '<%= config.bin %> sign --recursive --key cosign.key ghcr.io/acme/tool:v1',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'What to sign: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = {
    recursive: Flags.boolean({
      description:
        'For an image index: also sign every manifest it lists (nested indexes included), as cosign sign --recursive.',
    }),
    tag: Flags.string({
      char: 't',
      multiple: true,
      multipleNonGreedy: true,
      description:
        'After signing, point this tag at the signed manifest (repeatable): what push --sign does last, so a tag never names an unsigned artifact.',
    }),
    ...signingFlags,
  };

  override async run(): Promise<SignCommandResult> {
    const { flags, args } = this;
    const { tag: _tag, digest: _digest, ...repository } = parseTarget(args.reference);
    const base = formatTarget(repository);
    const tags = [...new Set(flags.tag ?? [])];
    for (const tag of tags) parseTarget(`${base}:${tag}`);
    const client = await this.registryClient();
    const signer = await createSignerFromFlags(flags, { stdinTaken: flags['password-stdin'] });
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `sign ${opened.display}: name a tag or a digest`);
    }
    const signed = await signArtifact(opened.target, opened.reference, signer, {
      recursive: flags.recursive,
      tags,
      display: opened.display,
      signal: this.signal,
      onEvent: (event) => {
        if (event.type === 'tagged') {
          this.logToStderr(`Tagged ${event.tag}`);
          return;
        }
        const which = event.platform === undefined ? '' : ` (${formatPlatform(event.platform)})`;
        this.logToStderr(`Signed ${base}@${event.subject.digest}${which}: signature ${event.referrer.digest}`);
        this.log(event.referrer.digest);
      },
    });
    const signatures: SignedManifestJSON[] = signed.signatures.map((made) => ({
      reference: `${base}@${made.subject.digest}`,
      digest: made.subject.digest,
      mediaType: made.subject.mediaType,
      ...(made.platform && { platform: made.platform }),
      signature: signatureJSON(made),
    }));
    const [first] = signatures;
    if (first === undefined) throw new LadingError(ErrorCodes.usage, `sign ${opened.display}: nothing to sign`);
    const result: SignCommandResult = {
      reference: first.reference,
      digest: first.digest,
      signature: first.signature,
      signatures,
    };
    if (tags.length > 0) result.tags = signed.tags;
    return result;
  }
}
