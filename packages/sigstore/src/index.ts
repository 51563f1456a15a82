/**
 * @lading/sigstore: Sigstore signer and verifier plugin for lading (keyless and key-based, cosign-compatible).
 * The package exists in the workspace graph (cli → sigstore → core); its signer and verifier are not written yet.
 * @packageDocumentation
 */
export {};
