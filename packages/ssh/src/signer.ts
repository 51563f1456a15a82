/**
 * The SSH signer: signs an in-toto statement about a manifest as an SSHSIG (`ssh-keygen -Y sign`) with a key file
 * or a key held by ssh-agent, and returns the two-layer referrer (`statement.json`, `statement.json.sig`).
 */
import { readFile } from 'node:fs/promises';
import {
  AnnotationCreated,
  AnnotationTitle,
  ErrorCodes,
  LadingError,
  type CallOptions,
  type SignedReferrer,
  type Signer,
  type SignRequest,
} from '@lading/core';
import { checkCommitId } from './git-anchor.js';
import { AgentFlags, agentSign, listAgentIdentities } from './agent.js';
import {
  fingerprintOf,
  parsePublicKey,
  parsePublicKeyLine,
  plainKeyBlob,
  signWithKey,
  verifySignature,
  type RSASignatureAlgorithm,
  type SSHPublicKey,
} from './keys.js';
import {
  ArtifactTypeSSHSIG,
  DefaultNamespace,
  MediaTypeInToto,
  MediaTypeSSHSIG,
  PredicateTypeSign,
  TitleSignature,
  TitleStatement,
} from './media-types.js';
import { readPrivateKey, type PassphraseSource, type SSHPrivateKey } from './private-key.js';
import { armorSSHSIG, signedData } from './sshsig.js';
import { statementFor } from './statement.js';

/** Options of {@link createSshSigner}. Give exactly one of `keyFile` and `agent`. */
export interface SshSignerOptions {
  /** An OpenSSH private key file (`ssh-keygen` writes them), unencrypted or with a passphrase. */
  keyFile?: string;
  /** Sign with a key held by ssh-agent: `true` for `SSH_AUTH_SOCK`, or the socket's path. */
  agent?: boolean | string;
  /**
   * The key to use, `SHA256:…` as `ssh-keygen -l` and `ssh-add -l` print it. With `agent`, required when the agent
   * holds more than one key; with `keyFile`, checked against the file's key.
   */
  fingerprint?: string;
  /**
   * An OpenSSH certificate (`…-cert.pub`) for the key: the signature then carries the certificate, for
   * allowed_signers `cert-authority` lines. Default none.
   */
  certificateFile?: string;
  /** The SSHSIG namespace. Default `lading`. */
  namespace?: string;
  /** Passphrase of an encrypted key file. Default: the `LADING_SSH_PASSPHRASE` environment variable. */
  passphrase?: PassphraseSource;
  /** Environment read for `SSH_AUTH_SOCK` and `LADING_SSH_PASSPHRASE`. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** RSA keys sign with this. Default `rsa-sha2-512` (as `ssh-keygen -Y sign`); SHA-1 `ssh-rsa` never. */
  rsaAlgorithm?: RSASignatureAlgorithm;
  /** Clock for the referrer's `org.opencontainers.image.created`. Default the system clock. */
  clock?: () => Date;
  /**
   * The git commit the artifact was built from (full id): recorded in the signed statement as a second subject with
   * a `gitCommit` digest, for verifiers that check it against a repository. Default none.
   */
  gitCommit?: string;
}

/** A {@link Signer} with SSH keys, and which key it signs with. */
export interface SshSigner extends Signer {
  /** The key (or certificate) the signatures carry. */
  readonly publicKey: SSHPublicKey;
  /** `SHA256:…` of the plain key. */
  readonly fingerprint: string;
  /** The SSHSIG namespace. */
  readonly namespace: string;
}

type RawSign = (data: Uint8Array, signal?: AbortSignal) => Promise<Buffer>;

/**
 * Creates the SSH signer and checks everything it can before any upload: reads and decrypts the key file (or finds
 * the key in the agent), checks the fingerprint and certificate. Throws `ERR_LADING_USAGE` saying what is wrong
 * (no key source or both, unreadable key file, missing or wrong passphrase, agent unreachable, no or several
 * matching agent keys, a certificate for another key).
 *
 * `sign` builds the in-toto Statement v1 about `request.subject` (predicate type default
 * `https://sigstore.dev/cosign/sign/v1`, predicate `{}`), signs it as SSHSIG (sha512) in the namespace, checks its own
 * signature, and returns the referrer: `artifactType` `application/vnd.lading.sshsig.v1`, layers `statement.json`
 * (`application/vnd.in-toto+json`) then `statement.json.sig`, each titled, and the creation time annotation.
 */
export async function createSshSigner(options: SshSignerOptions): Promise<SshSigner> {
  const env = options.env ?? process.env;
  const usage = (why: string, cause?: unknown): LadingError =>
    new LadingError(ErrorCodes.usage, `ssh signer: ${why}`, cause === undefined ? {} : { cause });
  if ((options.keyFile === undefined) === (options.agent === undefined || options.agent === false)) {
    throw usage('give exactly one of a key file (--ssh-key) and the agent (--ssh-agent)');
  }
  if (options.gitCommit !== undefined) {
    try {
      checkCommitId(options.gitCommit);
    } catch (e) {
      throw usage((e as Error).message, e);
    }
  }
  const certificate =
    options.certificateFile === undefined ? undefined : await readCertificate(options.certificateFile, usage);
  let publicKey: SSHPublicKey;
  let raw: RawSign;
  if (options.keyFile !== undefined) {
    const file = options.keyFile;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw usage(`cannot read the key file ${file} (${(e as Error).message})`, e);
    }
    const key: SSHPrivateKey = await readPrivateKey(text, file, {
      env,
      ...(options.passphrase ? { passphrase: options.passphrase } : {}),
    });
    publicKey = key.publicKey;
    const rsa = options.rsaAlgorithm;
    // eslint-disable-next-line @typescript-eslint/require-await -- same shape as the agent's
    raw = async (data) => signWithKey(key.keyType, key.privateKey, data, rsa);
  } else {
    const socket = typeof options.agent === 'string' ? options.agent : env.SSH_AUTH_SOCK;
    if (socket === undefined || socket === '')
      throw usage('--ssh-agent: SSH_AUTH_SOCK is not set (is ssh-agent running?)');
    const identities = await listAgentIdentities(socket);
    const wanted = options.fingerprint ?? certificate?.fingerprint;
    const plain = identities
      .map((i) => {
        try {
          return parsePublicKey(i.blob, 'agent key');
        } catch {
          return undefined; // a key type lading does not sign with (DSA, sk- keys): not a candidate
        }
      })
      .filter((k): k is SSHPublicKey => k !== undefined && !k.certificate)
      .filter((k) => wanted === undefined || fingerprintOf(plainKeyBlob(k)) === wanted);
    if (plain.length !== 1) {
      throw usage(
        plain.length === 0
          ? `ssh-agent ${socket} holds no usable key${wanted ? ` with fingerprint ${wanted}` : ''} (${identities.length} identities; see ssh-add -l)`
          : `ssh-agent ${socket} holds ${plain.length} keys; choose one with --ssh-key-fingerprint`,
      );
    }
    publicKey = plain[0] as SSHPublicKey;
    const flags = options.rsaAlgorithm === 'rsa-sha2-256' ? AgentFlags.rsaSHA256 : AgentFlags.rsaSHA512;
    const signing = publicKey;
    raw = (data, signal) =>
      agentSign(socket, (certificate ?? signing).blob, data, publicKey.keyType === 'ssh-rsa' ? flags : 0, signal);
  }
  const fingerprint = fingerprintOf(plainKeyBlob(publicKey));
  if (options.fingerprint !== undefined && options.fingerprint !== fingerprint) {
    throw usage(`the key is ${fingerprint}, not the requested ${options.fingerprint}`);
  }
  if (certificate !== undefined) {
    if (fingerprintOf(plainKeyBlob(certificate)) !== fingerprint) {
      throw usage(
        `the certificate ${options.certificateFile ?? ''} is for key ${certificate.fingerprint}, not ${fingerprint}`,
      );
    }
    publicKey = certificate;
  }
  return new SSHSigner(
    publicKey,
    fingerprint,
    options.namespace ?? DefaultNamespace,
    raw,
    options.clock ?? (() => new Date()),
    options.gitCommit,
  );
}

async function readCertificate(
  file: string,
  usage: (why: string, cause?: unknown) => LadingError,
): Promise<SSHPublicKey> {
  try {
    const key = parsePublicKeyLine(await readFile(file, 'utf8'), file);
    if (!key.certificate) throw new Error(`${file}: not an OpenSSH certificate`);
    return { ...key, fingerprint: fingerprintOf(plainKeyBlob(key)) };
  } catch (e) {
    throw usage(`certificate ${(e as Error).message}`, e);
  }
}

class SSHSigner implements SshSigner {
  readonly publicKey: SSHPublicKey;
  readonly fingerprint: string;
  readonly namespace: string;
  readonly #raw: RawSign;
  readonly #clock: () => Date;
  readonly #gitCommit: string | undefined;

  constructor(
    publicKey: SSHPublicKey,
    fingerprint: string,
    namespace: string,
    raw: RawSign,
    clock: () => Date,
    gitCommit: string | undefined,
  ) {
    if (namespace === '') throw new LadingError(ErrorCodes.usage, 'ssh signer: the namespace must not be empty');
    this.publicKey = publicKey;
    this.fingerprint = fingerprint;
    this.namespace = namespace;
    this.#raw = raw;
    this.#clock = clock;
    this.#gitCommit = gitCommit;
  }

  async sign(request: SignRequest, options: CallOptions = {}): Promise<SignedReferrer> {
    options.signal?.throwIfAborted();
    const statement = statementFor(
      request.subject,
      request.predicateType ?? PredicateTypeSign,
      request.predicate,
      this.#gitCommit,
    );
    const data = signedData(this.namespace, 'sha512', statement);
    const signature = await this.#raw(data, options.signal);
    try {
      verifySignature(this.publicKey, data, signature);
    } catch (e) {
      // The key file's private half does not match its public half, or the agent answered with another key.
      throw new LadingError(
        ErrorCodes.usage,
        `sign ${request.subject.digest}: the signature made with ${this.fingerprint} does not verify (${(e as Error).message})`,
        { cause: e },
      );
    }
    const armored = armorSSHSIG(this.publicKey.blob, this.namespace, 'sha512', signature);
    return {
      artifactType: ArtifactTypeSSHSIG,
      layerMediaType: MediaTypeSSHSIG,
      content: new TextEncoder().encode(armored),
      layerAnnotations: { [AnnotationTitle]: TitleSignature },
      payloadLayers: [
        { mediaType: MediaTypeInToto, content: statement, annotations: { [AnnotationTitle]: TitleStatement } },
      ],
      annotations: {
        [AnnotationCreated]: this.#clock()
          .toISOString()
          .replace(/\.\d{3}Z$/, 'Z'),
      },
    };
  }
}
