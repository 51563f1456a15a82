/**
 * @lading/ssh: sign artifacts with SSH keys (key files or ssh-agent) as SSHSIG referrers, and verify them against
 * OpenSSH allowed_signers files, offline; the signatures check with `ssh-keygen -Y verify` too.
 * @packageDocumentation
 */
export { createSshSigner } from './signer.js';
export type { SshSigner, SshSignerOptions } from './signer.js';
export { createSshVerifier, SSHVerifierName } from './verifier.js';
export type { SshVerifierPolicy, SSHVerifiedSignature } from './verifier.js';
export { generateSshKeyPair } from './generate.js';
export type { GeneratedSshKeyPair, GenerateSshKeyPairOptions } from './generate.js';
export { PassphraseEnvironmentVariable, readPrivateKey } from './private-key.js';
export type { PassphraseSource, ReadPrivateKeyOptions, SSHPrivateKey } from './private-key.js';
export { fingerprintOf, formatPublicKey, parsePublicKey, parsePublicKeyLine, SSHKeyTypes } from './keys.js';
export type { RSASignatureAlgorithm, SSHCertificate, SSHKeyType, SSHPublicKey } from './keys.js';
export { matchPatternList, parseAllowedSigners } from './allowed-signers.js';
export type { AllowedSigner } from './allowed-signers.js';
export { armorSSHSIG, parseSSHSIG, signedData } from './sshsig.js';
export type { SSHSIG, SSHSIGHash } from './sshsig.js';
export { parseStatement, statementFor } from './statement.js';
export { DigestGitCommit, GitNamespace } from './git-anchor.js';
export type { Statement } from './statement.js';
export * from './media-types.js';
