/**
 * @lading/ssh/internal: the parsers and encoders the signer and verifier are built from, for lading's own packages
 * and tests. Not part of the API: names here may change or go in any release. Library users import `@lading/ssh`.
 * @packageDocumentation
 */
export { readPrivateKey } from './private-key.js';
export type { ReadPrivateKeyOptions, SSHPrivateKey } from './private-key.js';
export { fingerprintOf, formatPublicKey, parsePublicKey, parsePublicKeyLine, SSHKeyTypes } from './keys.js';
export type { SSHCertificate, SSHPublicKey } from './keys.js';
export { matchPatternList, parseAllowedSigners } from './allowed-signers.js';
export type { AllowedSigner } from './allowed-signers.js';
export { armorSSHSIG, parseSSHSIG, signedData } from './sshsig.js';
export type { SSHSIG, SSHSIGHash } from './sshsig.js';
export { parseStatement, statementFor } from './statement.js';
export type { Statement } from './statement.js';
