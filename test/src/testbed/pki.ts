import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from './tools.js';

/** A PEM certificate with its PEM private key, both as files (what servers' configs point at). */
export interface CertFiles {
  certFile: string;
  keyFile: string;
  /** The certificate, PEM. */
  certPem: string;
}

/** The key and self-signed certificate a token server signs JWTs with. */
export interface TokenSigner extends CertFiles {
  /** The private key (EC P-256, PKCS#8 PEM), for `node:crypto` signing. */
  keyPem: string;
  /** The certificate, DER base64 (standard alphabet): the JWT header's `x5c[0]`. */
  certDerBase64: string;
}

/** Everything {@link createPKI} makes. */
export interface TestPKI {
  dir: string;
  /** The test CA (EC P-256, `CA:TRUE`): the trust anchor clients get for the TLS registry. */
  ca: CertFiles;
  /** Server leaf issued by {@link TestPKI.ca} for `IP:127.0.0.1` and `DNS:localhost`. */
  server: CertFiles;
  /** Token-signing key and self-signed leaf; distribution's `auth.token.rootcertbundle` is this certificate. */
  tokenSigner: TokenSigner;
}

/** Validity of every certificate, in days. Short: they only live for one test run. */
const DAYS = '2';

// A private config, so the machine's openssl.cnf (default extensions, policies) has no say in what we issue.
const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = @sans
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[signer_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
[sans]
IP.1 = 127.0.0.1
DNS.1 = localhost
`;

/**
 * Generates the test PKI into `dir` (created if needed) with the `openssl` CLI: a CA, a server certificate it
 * issues for 127.0.0.1/localhost, and a self-signed ES256 token signer. All keys are EC P-256, unencrypted;
 * certificates are valid for 2 days from now. Nothing is reused between runs.
 */
export async function createPKI(dir: string): Promise<TestPKI> {
  const cnf = await writeConfig(dir, 'openssl.cnf');
  const [ca, tokenSigner] = await Promise.all([
    selfSigned(cnf, dir, 'ca', 'lading test CA', 'ca_ext'),
    createTokenSigner(dir),
  ]);
  const server = await issueServerCert(cnf, dir, ca);
  return { dir, ca, server, tokenSigner };
}

/** Writes the private openssl config as `dir/file`; one file per caller, so parallel callers never race. */
async function writeConfig(dir: string, file: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const cnf = path.join(dir, file);
  await writeFile(cnf, OPENSSL_CNF);
  return cnf;
}

async function newKey(keyFile: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
}

async function selfSigned(cnf: string, dir: string, name: string, cn: string, ext: string): Promise<CertFiles> {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  await newKey(keyFile);
  await run('openssl', [
    ...['req', '-new', '-x509', '-config', cnf, '-extensions', ext, '-key', keyFile, '-out', certFile],
    ...['-subj', `/CN=${cn}`, '-days', DAYS, '-sha256', '-set_serial', serial()],
  ]);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8') };
}

async function issueServerCert(cnf: string, dir: string, ca: CertFiles): Promise<CertFiles> {
  const keyFile = path.join(dir, 'server.key');
  const csrFile = path.join(dir, 'server.csr');
  const certFile = path.join(dir, 'server.crt');
  await newKey(keyFile);
  await run('openssl', ['req', '-new', '-config', cnf, '-key', keyFile, '-subj', '/CN=127.0.0.1', '-out', csrFile]);
  await run('openssl', [
    ...['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-out', certFile],
    ...['-extfile', cnf, '-extensions', 'server_ext', '-days', DAYS, '-sha256', '-set_serial', serial()],
  ]);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8') };
}

/**
 * Generates an ES256 token signer into `dir` (created if needed): EC P-256 key `<name>.key` and a self-signed
 * certificate `<name>.crt` (default name `token-signer`), valid for 2 days. Also used by tests to make a signer
 * the registry does not trust.
 */
export async function createTokenSigner(dir: string, name = 'token-signer'): Promise<TokenSigner> {
  const cnf = await writeConfig(dir, `${name}.cnf`);
  const files = await selfSigned(cnf, dir, name, 'lading test token signer', 'signer_ext');
  return {
    ...files,
    keyPem: await readFile(files.keyFile, 'utf8'),
    certDerBase64: pemToDerBase64(files.certPem),
  };
}

/** The base64 body of the first PEM block (DER, standard base64, no line breaks). */
export function pemToDerBase64(pem: string): string {
  const m = /-----BEGIN [A-Z ]+-----([\s\S]+?)-----END [A-Z ]+-----/.exec(pem);
  if (!m?.[1]) throw new Error('pemToDerBase64: no PEM block found');
  return m[1].replace(/\s+/g, '');
}

/** A random positive 128-bit serial number in hex (top bit clear: Go rejects negative serials). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return `0x${b.toString('hex')}`;
}
