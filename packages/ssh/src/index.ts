/**
 * @lading/ssh: SSH-key signer and verifier plugin for lading (maintainer keys, allowed_signers, offline).
 * The package exists in the workspace graph (cli → ssh → core); its signer and verifier are not written yet.
 * @packageDocumentation
 */
export {};
