import type { Credentials } from './distribution.js';
import type { PeerToolVersion } from './peers.js';
import type { AccessRule } from './token-server.js';

export type { Credentials } from './distribution.js';
export type { AccessRule } from './token-server.js';

/** How a registry of the bed authenticates. */
export type RegistryAuth = 'anonymous' | 'htpasswd' | 'token';

/** A registry of the test bed, as test workers see it (plain data: it crosses a process boundary). */
export interface RegistryInfo {
  /** `distribution` (CNCF distribution 2.8) or `crane` (`crane registry serve`, in memory). */
  server: 'distribution' | 'crane';
  auth: RegistryAuth;
  /** `127.0.0.1:PORT`: the registry part of a reference (`${host}/repo:tag`). */
  host: string;
  /** `http://127.0.0.1:PORT`, or `https://` for the TLS registry. */
  url: string;
  /** True when the registry speaks plain HTTP (oras `--plain-http`, crane `--insecure`, skopeo `--tls-verify=false`). */
  plainHTTP: boolean;
  /** Whether `GET /v2/<name>/referrers/<digest>` is served: false for every registry here (fallback tags only). */
  referrersAPI: boolean;
  /** The server's log file (distribution's access and error log; crane's request log). */
  logFile: string;
}

/** distribution with Basic auth from an htpasswd file. */
export interface HtpasswdRegistryInfo extends RegistryInfo {
  auth: 'htpasswd';
  /** The Basic realm in its `WWW-Authenticate` challenge. */
  realm: string;
  /** The one user of the htpasswd file (random password per run); it may do anything. */
  credentials: Credentials;
}

/** distribution with Bearer tokens from the bed's token server; its users are in {@link TestBed.tokenServer}. */
export interface TokenRegistryInfo extends RegistryInfo {
  auth: 'token';
  /** `auth.token.realm`: the token server's `/token` URL. */
  realm: string;
  /** `auth.token.service`: the token audience, sent back as `service=`. */
  service: string;
  /** `auth.token.issuer`. */
  issuer: string;
}

/** distribution over HTTPS with a certificate from the bed's CA (anonymous). */
export interface TLSRegistryInfo extends RegistryInfo {
  /** PEM file of the CA to trust (oras `--ca-file`, `SSL_CERT_FILE` for Go tools, undici `connect.ca`). */
  caFile: string;
}

/** A token server user: credentials and what it may do. */
export interface TokenUserInfo extends Credentials {
  rules: AccessRule[];
}

/** The token server, as test workers see it. */
export interface TokenServerInfo {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** `<url>/token`: GET with Basic credentials or none; POST OAuth2 (`grant_type=password|refresh_token`). */
  realm: string;
  /** `GET` answers every token request so far as a JSON array of `TokenRequestRecord` (no secrets). */
  requestsURL: string;
  service: string;
  issuer: string;
  /**
   * Users, random passwords per run. `alice`: pull/push/delete on `alice/*`, pull on `shared/*`.
   * `bob`: pull on everything. `admin`: every action on every repository, plus `registry:catalog:*`.
   */
  users: { alice: TokenUserInfo; bob: TokenUserInfo; admin: TokenUserInfo };
  /** What anonymous requests get: pull on `public/*`. */
  anonymous: AccessRule[];
}

/** Everything the global setup started, given to tests by `inject('testbed')` (or `testbed()` from `./index.js`). */
export interface TestBed {
  /** Temporary folder of this run (PKI, registry storage and logs); removed at teardown. */
  dir: string;
  /** The test CA: `certFile` path and its PEM. */
  ca: { certFile: string; pem: string };
  tokenServer: TokenServerInfo;
  registries: {
    /** distribution, plain HTTP, no auth. */
    anonymous: RegistryInfo;
    /** distribution, plain HTTP, Basic auth. */
    htpasswd: HtpasswdRegistryInfo;
    /** distribution, plain HTTP, Bearer tokens from {@link TestBed.tokenServer}. */
    token: TokenRegistryInfo;
    /** distribution, HTTPS with the test CA, no auth. */
    tls: TLSRegistryInfo;
    /** `crane registry serve`, plain HTTP, no auth, in memory. */
    crane: RegistryInfo;
  };
  /** Versions of the peer tools checked at setup. */
  peerTools: PeerToolVersion[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    testbed: TestBed;
  }
}
