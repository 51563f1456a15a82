/**
 * @lading/ssh: sign artifacts with SSH keys (key files or ssh-agent) as SSHSIG referrers, and verify them against
 * OpenSSH allowed_signers files, offline; the signatures check with `ssh-keygen -Y verify` too. This barrel exports
 * the signer, the verifier, key generation and the format's names; the parsers they are built from (keys,
 * allowed_signers, SSHSIG, statements) are in `@lading/ssh/internal`, for lading's own packages only.
 * @packageDocumentation
 */
export { createSshSigner } from './signer.js';
export type { SshSigner, SshSignerOptions } from './signer.js';
export { createSshVerifier, SSHVerifierName } from './verifier.js';
export type { SshVerifierPolicy, SSHVerifiedSignature } from './verifier.js';
export { generateSshKeyPair } from './generate.js';
export type { GeneratedSshKeyPair, GenerateSshKeyPairOptions } from './generate.js';
export { PassphraseEnvironmentVariable } from './private-key.js';
export type { PassphraseSource } from './private-key.js';
export type { RSASignatureAlgorithm, SSHKeyType } from './keys.js';
export { DigestGitCommit, GitNamespace } from './git-anchor.js';
export * from './media-types.js';
