/**
 * Media types, titles and annotation keys of lading's SSH signature referrers (docs/format.md, "SSH signatures").
 */

/** `artifactType` of a referrer holding an SSH signature of its subject. */
export const ArtifactTypeSSHSIG = 'application/vnd.lading.sshsig.v1';

/** Media type of the armored SSHSIG layer (`statement.json.sig`). */
export const MediaTypeSSHSIG = 'application/vnd.lading.sshsig.signature.v1';

/** Media type of the signed in-toto statement layer (`statement.json`). */
export const MediaTypeInToto = 'application/vnd.in-toto+json';

/** Title of the statement layer: the file `oras pull` writes and `ssh-keygen -Y verify` reads on stdin. */
export const TitleStatement = 'statement.json';

/** Title of the signature layer: the file given to `ssh-keygen -Y verify -s`. */
export const TitleSignature = 'statement.json.sig';

/** The SSHSIG namespace lading signs in and requires by default. */
export const DefaultNamespace = 'lading';

/** in-toto Statement v1 `_type`. */
export const StatementTypeV1 = 'https://in-toto.io/Statement/v1';

/** Predicate type of a plain signature (cosign's, also what `@lading/sigstore` uses); the default. */
export const PredicateTypeSign = 'https://sigstore.dev/cosign/sign/v1';
