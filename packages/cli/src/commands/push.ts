import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

import {
  DefaultCopyConcurrency,
  AnnotationTitle,
  ErrorCodes,
  LadingError,
  MediaTypeTOC,
  openTarget,
  parseTarget,
  pushArtifact,
  signArtifact,
  isLadingError,
  type Descriptor,
  type PackInput,
  type PushEvent,
  type PushOptions,
  type SignedManifest,
  type SignResult,
  type Signer,
} from '@lading/core';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { parseAnnotations, parsePathArgument, splitPushReference } from '../arguments.js';
import { RegistryCommand, type ErrorJSON } from '../base-command.js';
import { formatBytes, shortDigest } from '../format.js';
import type { Progress } from '../progress.js';
import { createSignerFromFlags } from '../signer-from-flags.js';
import { signingFlags } from '../signing-flags.js';

/** One layer of a pushed artifact, in `lading push --json`. */
export interface PushedLayer {
  /** The layer's title: the path a pull writes. */
  title: string;
  digest: string;
  size: number;
  mediaType: string;
}

/** What `lading push --json` prints. */
export interface PushCommandResult {
  /** The pushed manifest by digest: `host/repo@sha256:…` or `oci:<dir>@sha256:…`, ready for pull. */
  reference: string;
  /** The manifest digest: the artifact's identity. */
  digest: string;
  /** The manifest's media type. */
  mediaType: string;
  /** The manifest's size in bytes. */
  size: number;
  /** Tags now pointing at the manifest. */
  tags: string[];
  layers: PushedLayer[];
  /** Blobs (layers and table of contents) the target already had, so not uploaded. */
  skipped: number;
  /** With `--sign`: the signature attached as a referrer of the manifest. */
  signature?: SignatureJSON;
}

/** A signature attached as a referrer, in `lading push --json` and `lading sign --json`. */
export interface SignatureJSON {
  /** The referrer manifest's digest. */
  digest: string;
  mediaType: string;
  size: number;
  /** The signature's artifact type (a Sigstore bundle media type). */
  artifactType: string;
}

/** The {@link SignatureJSON} of a signature `signArtifact` or `attestArtifact` made. */
export function signatureJSON(made: SignedManifest): SignatureJSON {
  const { referrer } = made;
  return {
    digest: referrer.digest,
    mediaType: referrer.mediaType,
    size: referrer.size,
    artifactType: made.artifactType,
  };
}

/**
 * In the `--json` error of `lading push --sign` when the artifact was uploaded but not signed (Fulcio down, say):
 * what is in the registry, and the command that finishes the job. No tag moved.
 */
export interface UnsignedPushJSON {
  /** The pushed manifest by digest: `host/repo@sha256:…`. */
  reference: string;
  /** The manifest digest. */
  digest: string;
  /** Tags moved: none. */
  tags: string[];
  /** The `lading sign … --tag …` command that signs it and then moves the tags `push` was given. */
  signCommand: string;
}

/** What `lading push --sign --json` prints when it fails after the upload: the error and what was pushed. */
export interface PushFailureJSON {
  error: ErrorJSON['error'] & { pushed?: UnsignedPushJSON };
}

/** Registry flags carried over into the suggested `lading sign` command, when given. */
const carriedRegistryFlags = ['ca-file', 'cert-file', 'key-file', 'username'] as const;
/** Signing flags carried over as they are (none holds a secret). */
const carriedSigningFlags = [
  'key',
  'signing-config',
  'fulcio-url',
  'rekor-url',
  'tsa-url',
  'oidc-issuer',
  'oidc-client-id',
  'ssh-key',
  'ssh-key-fingerprint',
  'ssh-namespace',
  'ssh-certificate',
  'git-commit',
] as const;

/**
 * The `lading sign` command that signs `reference` with the signing flags `push` was given and then moves `tags`.
 * Secrets are never repeated: a literal identity token becomes `<token>`, a registry password `--password-stdin`.
 */
function signCommand(flags: Record<string, unknown>, tags: readonly string[], reference: string): string {
  const words = ['lading', 'sign'];
  const given = (name: string): string | undefined => {
    const value = flags[name];
    return typeof value === 'string' ? value : undefined;
  };
  for (const name of carriedRegistryFlags) {
    const value = given(name);
    if (value !== undefined) words.push(`--${name}`, value);
  }
  if (given('username') !== undefined) words.push('--password-stdin');
  if (flags.insecure === true) words.push('--insecure');
  if (flags['plain-http'] === true) words.push('--plain-http');
  if (flags['plain-http'] === false) words.push('--no-plain-http');
  for (const name of carriedSigningFlags) {
    const value = given(name);
    if (value !== undefined) words.push(`--${name}`, value);
  }
  for (const name of ['key-password-stdin', 'tlog-upload', 'oidc-browser', 'ssh-agent']) {
    if (flags[name] === true) words.push(`--${name}`);
  }
  const token = given('identity-token');
  if (token !== undefined) words.push('--identity-token', existsSync(token) ? token : '<token>');
  for (const tag of tags) words.push('--tag', tag);
  words.push(reference);
  return words.map(shellWord).join(' ');
}

/** `word` quoted for a POSIX shell when it needs it (`<token>` stays as a placeholder to fill in). */
function shellWord(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word) || word === '<token>') return word;
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * oclif takes any argument starting with `-` for a flag, so `-:text/plain` (standard input with a media type) is
 * hidden from it behind this prefix and restored after parsing. NUL cannot occur in a command-line argument.
 */
const stdinWithType = '\u0000stdin';

/** A name for a blob in progress lines: its title, `table of contents` for the config, else a short digest. */
function blobName(descriptor: Descriptor): string {
  if (descriptor.mediaType === MediaTypeTOC) return 'table of contents';
  return descriptor.annotations?.[AnnotationTitle] ?? shortDigest(descriptor.digest);
}

function renderPushEvent(progress: Progress, event: PushEvent): void {
  switch (event.type) {
    case 'packed':
      break;
    case 'skipped':
      progress.note(`Skipped ${blobName(event.descriptor)} ${shortDigest(event.descriptor.digest)} (exists)`);
      break;
    case 'mounted':
      progress.note(`Mounted ${blobName(event.descriptor)} ${shortDigest(event.descriptor.digest)} from ${event.from}`);
      break;
    case 'copying':
      progress.begin(event.descriptor.digest, `Uploading ${blobName(event.descriptor)}`, {
        total: event.descriptor.size,
      });
      break;
    case 'progress':
      progress.advance(event.descriptor.digest, event.bytes);
      break;
    case 'copied':
      progress.end(
        event.descriptor.digest,
        `Uploaded ${blobName(event.descriptor)} ${formatBytes(event.descriptor.size)}`,
      );
      break;
    case 'tagged':
      progress.note(`Tagged ${event.tag}`);
      break;
  }
}

/** `lading push`: packs files and folders into an artifact and pushes it to a registry or an OCI layout. */
export class Push extends RegistryCommand<typeof Push> {
  static override summary = 'Push files and folders as an artifact to a registry or a local OCI layout.';
  static override description = `Each path becomes one layer: a file as it is, a folder as a tar+gzip layer with a table of contents, so that \`lading ls\` and \`lading cat\` need no download and \`lading pull\` checks every file. oras pulls the result too.

The reference may name several tags separated by commas (host/repo:v1,latest); --tag adds more. Without a tag the artifact is pushed by digest only. A path may end with :<mediaType> to set a file layer's media type, and - reads standard input (named by --stdin-name).

The manifest digest is printed on standard output; progress goes to standard error.`;

  static override examples = [
    { description: 'Push a folder.', command: '<%= config.bin %> push ghcr.io/acme/config:v1 ./config' },
    {
      description:
        'Push a folder and sign it keyless (in GitHub Actions, with its OIDC token); tagged only once signed.',
      command: '<%= config.bin %> push --sign ghcr.io/acme/config:v1 ./config',
    },
    {
      description: 'Push and sign with a cosign key, its password from standard input.',
      command:
        'echo "$KEY_PASSWORD" | <%= config.bin %> push --sign --key cosign.key --key-password-stdin ghcr.io/acme/config:v1 ./config',
    },
    {
      description: 'Push a folder and a file under two tags, with a media type for the file.',
      command: '<%= config.bin %> push ghcr.io/acme/config:v1,latest ./config ./README.md:text/markdown',
    },
    {
      description: 'Push standard input as a file named values.yaml, with an annotation.',
      command:
        'helm template ./chart | <%= config.bin %> push --stdin-name values.yaml --annotation org.opencontainers.image.source=https://github.com/acme/chart ghcr.io/acme/rendered:v1 -',
    },
    {
      description: 'Push to a local OCI image layout (created when missing).',
      command: '<%= config.bin %> push oci:./layout:v1 ./config',
    },
    {
      description: 'Push and sign with an SSH key (passphrase from LADING_SSH_PASSPHRASE, else asked at a terminal).',
      command: '<%= config.bin %> push --sign --ssh-key ~/.ssh/id_ed25519 ghcr.io/acme/config:v1 ./config',
    },
    {
      description: 'Push and sign with a key held by ssh-agent, recording the git commit built from.',
      command:
        '<%= config.bin %> push --sign --ssh-agent --ssh-key-fingerprint SHA256:… --git-commit "$(git rev-parse HEAD)" ghcr.io/acme/config:v1 ./config',
    },
    {
      description: 'Push in CI with a token read from standard input, and keep the digest.',
      command:
        'digest=$(echo "$TOKEN" | <%= config.bin %> push -u ci --password-stdin registry.example.com/acme/config:v1 ./config)',
    },
  ];

  /** Set when `--sign` failed after the upload: what was pushed, for the `--json` error. */
  private unsigned: UnsignedPushJSON | undefined;

  static override strict = false;
  // oclif would show every argument of a non-strict command as variadic; say what is.
  static override usage = 'push REFERENCE PATH... [FLAGS]';

  static override args = {
    reference: Args.string({
      required: true,
      description: 'Where to push: host[:port]/repository[:tag[,tag…]] or oci:<dir>[:tag[,tag…]].',
    }),
    path: Args.string({
      required: true,
      description: 'Files and folders to push, each path[:mediaType]; - reads standard input. One or more.',
    }),
  };

  static override flags = {
    tag: Flags.string({
      char: 't',
      multiple: true,
      multipleNonGreedy: true,
      description: 'Another tag to point at the artifact (repeatable).',
    }),
    'artifact-type': Flags.string({
      description: 'The manifest artifactType. Default application/vnd.lading.artifact.v1.',
    }),
    annotation: Flags.string({
      char: 'a',
      multiple: true,
      multipleNonGreedy: true,
      description: 'A manifest annotation key=value (repeatable; wins over --annotation-file).',
    }),
    'annotation-file': Flags.string({
      description: 'JSON file of manifest annotations: {"key": "value", …} (oras\'s {"$manifest": {…}} also works).',
    }),
    'stdin-name': Flags.string({ default: 'stdin', description: 'The file name given to content read from -.' }),
    'preserve-times': Flags.boolean({
      description: "Keep files' modification times in folder layers (default: SOURCE_DATE_EPOCH, else 0).",
    }),
    concurrency: Flags.integer({
      min: 1,
      max: 64,
      default: DefaultCopyConcurrency,
      description: 'Blobs uploaded at once (the default of copy and pull too).',
    }),
    sign: Flags.boolean({
      helpGroup: 'SIGNING',
      description:
        'Sign the manifest and attach the signature as a referrer: a cosign 3 bundle with --key, else keyless, or an SSH signature with --ssh-key/--ssh-agent. Pushed by digest, signed, and only then tagged.',
    }),
    ...signingFlags,
  };

  protected override beforeParse(argv: readonly string[]): string[] {
    const end = argv.indexOf('--');
    return argv.map((a, i) => ((end < 0 || i < end) && a.startsWith('-:') ? stdinWithType + a.slice(1) : a));
  }

  override async run(): Promise<PushCommandResult> {
    const { flags } = this;
    const [reference = '', ...given] = this.argvRest;
    const paths = given.map((a) => (a.startsWith(stdinWithType) ? `-${a.slice(stdinWithType.length)}` : a));
    const { base, tags: referenceTags } = splitPushReference(reference);
    for (const tag of flags.tag ?? []) parseTarget(`${base}:${tag}`);
    const tags = [...new Set([...referenceTags, ...(flags.tag ?? [])])];
    const inputs = this.inputs(paths, flags['stdin-name']);
    const annotationFile = flags['annotation-file'];
    const annotations = parseAnnotations(
      flags.annotation ?? [],
      annotationFile === undefined ? undefined : { name: annotationFile, text: await readText(annotationFile) },
    );

    const signingGiven = Object.keys(signingFlags).some(
      (name) => (flags as Record<string, unknown>)[name] !== undefined,
    );
    if (signingGiven && !flags.sign) {
      throw new LadingError(
        ErrorCodes.usage,
        'push: the signing flags (--key, --identity-token, --ssh-key, …) need --sign',
      );
    }
    const client = await this.registryClient();
    // Built before the push: a wrong key password fails before anything is uploaded.
    const signer: Signer | undefined = flags.sign
      ? await createSignerFromFlags(flags, { stdinTaken: this.stdinTaken || flags['password-stdin'] })
      : undefined;
    const opened = await openTarget(base, { client, create: true });
    const progress = this.progress();
    const options: PushOptions = {
      tags,
      annotations,
      preserveTimes: flags['preserve-times'],
      uploadConcurrency: flags.concurrency,
      signal: this.signal,
      onEvent: (event) => {
        renderPushEvent(progress, event);
      },
      onProgress: (event) => {
        const id = `pack:${event.input}`;
        if (event.phase === 'start') {
          const options = event.totalBytes === undefined ? {} : { total: event.totalBytes };
          progress.begin(id, `Packing ${event.title}`, { ...options, inTotal: false });
        } else if (event.phase === 'progress') progress.advance(id, event.bytesRead);
        else progress.end(id);
      },
    };
    if (flags['artifact-type'] !== undefined) options.artifactType = flags['artifact-type'];
    // With --sign the manifest goes up by digest only, and the tags move once the signature is attached: a
    // signature that cannot be made never leaves a tag naming an unsigned artifact.
    const pushed = await pushArtifact(opened.target, inputs, signer ? { ...options, tags: [] } : options);
    progress.finish();

    const digest = pushed.descriptor.digest;
    const result: PushCommandResult = {
      reference: `${opened.display}@${digest}`,
      digest,
      mediaType: pushed.descriptor.mediaType,
      size: pushed.descriptor.size,
      tags: pushed.tags,
      layers: pushed.layers.map((layer) => ({
        title: layer.annotations?.[AnnotationTitle] ?? '',
        digest: layer.digest,
        size: layer.size,
        mediaType: layer.mediaType,
      })),
      skipped: pushed.skipped,
    };
    if (!signer) {
      const tagged = pushed.tags.length > 0 ? `:${pushed.tags.join(',')}` : '';
      progress.note(`Pushed ${opened.display}${tagged} ${digest}`);
      this.log(digest);
      return result;
    }
    progress.note(`Pushed ${result.reference}`);
    // Signed by digest; the tags move only once the signature is attached (signArtifact's last step). A failure
    // before that leaves the push unsigned and untagged: say what is there and how to finish.
    const attached: Descriptor[] = [];
    let signed: SignResult;
    try {
      signed = await signArtifact(opened.target, digest, signer, {
        tags,
        display: result.reference,
        signal: this.signal,
        onEvent: (event) => {
          if (event.type === 'signed') {
            attached.push(event.referrer);
            progress.note(`Signed ${result.reference}: signature ${event.referrer.digest}`);
          } else renderPushEvent(progress, event);
        },
      });
    } catch (cause) {
      if (attached.length > 0 || this.signal.aborted || !isLadingError(cause)) throw cause;
      const finish = signCommand(flags, tags, result.reference);
      this.unsigned = { reference: result.reference, digest, tags: [], signCommand: finish };
      const untouched =
        tags.length === 0
          ? ''
          : ` (${tags.join(', ')} ${tags.length === 1 ? 'still names what it' : 'still name what they'} named before)`;
      throw new LadingError(
        cause.code,
        `push --sign ${opened.display}: pushed ${result.reference} by digest, but could not sign it: ${cause.message}. ` +
          `No tag moved${untouched}. When the cause is fixed, sign it${tags.length > 0 ? ' and move the tags' : ''} with: ${finish}`,
        { cause, ...(cause.service === undefined ? {} : { service: cause.service }) },
      );
    }
    const [made] = signed.signatures;
    if (made !== undefined) result.signature = signatureJSON(made);
    result.tags = signed.tags;
    this.log(digest);
    return result;
  }

  /** With `--json`, a failure after the upload names what was pushed (see {@link UnsignedPushJSON}). */
  override logJson(json: unknown): void {
    const unsigned = this.unsigned;
    if (unsigned !== undefined && typeof json === 'object' && json !== null && 'error' in json) {
      const { error } = json as ErrorJSON;
      super.logJson({ ...json, error: { ...error, pushed: unsigned } });
      return;
    }
    super.logJson(json);
  }

  /** The pack inputs for the path arguments; `-` (at most once) is standard input. */
  private inputs(paths: readonly string[], stdinName: string): PackInput[] {
    return paths.map((argument) => {
      const parsed = parsePathArgument(argument, existsSync);
      if (parsed.path !== '-') return parsed;
      if (this.stdinTaken) throw new LadingError(ErrorCodes.usage, 'push: - (standard input) may be given only once');
      this.stdinTaken = true;
      const input: PackInput = { stdin: process.stdin, name: stdinName };
      if (parsed.mediaType !== undefined) input.mediaType = parsed.mediaType;
      return input;
    });
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new LadingError(ErrorCodes.usage, `--annotation-file ${file}: ${(cause as Error).message}`, { cause });
  }
}
