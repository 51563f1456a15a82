import { describe, expect, it } from 'vitest';

import { ErrorCodes, isLadingError } from './errors.js';
import {
  DockerHub,
  credentialKey,
  dialHost,
  formatReference,
  formatTarget,
  parseReference,
  parseTarget,
  plainHTTPByDefault,
  type Reference,
} from './reference.js';

const hex64 = 'a'.repeat(64);
const sha256 = `sha256:${hex64}`;
const sha512 = `sha512:${'b'.repeat(128)}`;

/** Runs `fn`, expecting an invalid-reference error; returns its message. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isLadingError(err, ErrorCodes.invalidReference)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected an invalid-reference error');
}

describe('parseReference', () => {
  const valid: [string, Reference][] = [
    ['ubuntu', { registry: 'docker.io', repository: 'library/ubuntu' }],
    ['ubuntu:24.04', { registry: 'docker.io', repository: 'library/ubuntu', tag: '24.04' }],
    ['acme/app:v1', { registry: 'docker.io', repository: 'acme/app', tag: 'v1' }],
    ['docker.io/ubuntu', { registry: 'docker.io', repository: 'library/ubuntu' }],
    ['index.docker.io/acme/app', { registry: 'docker.io', repository: 'acme/app' }],
    ['docker.io/library/ubuntu:latest', { registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest' }],
    // registry-1.docker.io is a host of its own as far as names go (docker keeps it too): no library/ prefix.
    ['registry-1.docker.io/ubuntu', { registry: 'registry-1.docker.io', repository: 'ubuntu' }],
    ['ghcr.io/acme/app:v1', { registry: 'ghcr.io', repository: 'acme/app', tag: 'v1' }],
    ['ghcr.io/acme/app', { registry: 'ghcr.io', repository: 'acme/app' }],
    ['ghcr.io/app', { registry: 'ghcr.io', repository: 'app' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['localhost:5000/a/b/c:t', { registry: 'localhost:5000', repository: 'a/b/c', tag: 't' }],
    ['registry:5000/app', { registry: 'registry:5000', repository: 'app' }],
    ['127.0.0.1:5000/app', { registry: '127.0.0.1:5000', repository: 'app' }],
    ['10.1.2.3/app', { registry: '10.1.2.3', repository: 'app' }],
    ['[::1]:5000/app:v1', { registry: '[::1]:5000', repository: 'app', tag: 'v1' }],
    ['[::1]/app', { registry: '[::1]', repository: 'app' }],
    ['[2001:db8::1]:443/ns/app', { registry: '[2001:db8::1]:443', repository: 'ns/app' }],
    ['my-registry.example.com/team/app', { registry: 'my-registry.example.com', repository: 'team/app' }],
    ['ghcr.io/a.b_c__d--e---f/g', { registry: 'ghcr.io', repository: 'a.b_c__d--e---f/g' }],
    [`ghcr.io/app@${sha256}`, { registry: 'ghcr.io', repository: 'app', digest: sha256 }],
    [`ghcr.io/app@${sha512}`, { registry: 'ghcr.io', repository: 'app', digest: sha512 }],
    [`ghcr.io/app:v1@${sha256}`, { registry: 'ghcr.io', repository: 'app', tag: 'v1', digest: sha256 }],
    [`ubuntu@${sha256}`, { registry: 'docker.io', repository: 'library/ubuntu', digest: sha256 }],
    ['ghcr.io/app:V1_x.y-z', { registry: 'ghcr.io', repository: 'app', tag: 'V1_x.y-z' }],
    ['ghcr.io/app:_', { registry: 'ghcr.io', repository: 'app', tag: '_' }],
    [`ghcr.io/app:${'t'.repeat(128)}`, { registry: 'ghcr.io', repository: 'app', tag: 't'.repeat(128) }],
    // Docker's rule: without a "/", the name is a Docker Hub repository, so the port reads as a tag.
    ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000' }],
    ['ghcr.io', { registry: 'docker.io', repository: 'library/ghcr.io' }],
  ];

  it.each(valid)('parses %s', (input, expected) => {
    expect(parseReference(input)).toStrictEqual(expected);
  });

  it.each(valid)('round-trips %s through formatReference', (input) => {
    const ref = parseReference(input);
    const formatted = formatReference(ref);
    expect(parseReference(formatted)).toStrictEqual(ref);
    expect(formatReference(parseReference(formatted))).toBe(formatted);
  });

  it('formats the normalised, fully qualified form', () => {
    expect(formatReference(parseReference('ubuntu'))).toBe('docker.io/library/ubuntu');
    expect(formatReference(parseReference(`index.docker.io/acme/app:v1@${sha256}`))).toBe(
      `docker.io/acme/app:v1@${sha256}`,
    );
    expect(formatReference(parseReference('[::1]:5000/app:v1'))).toBe('[::1]:5000/app:v1');
  });

  it('accepts a name of exactly 255 characters and refuses 256', () => {
    const at255 = `localhost/${'a'.repeat(245)}`;
    expect(at255).toHaveLength(255);
    expect(parseReference(at255).repository).toHaveLength(245);
    const message = failure(() => parseReference(`${at255}a`));
    expect(message).toContain('is 256 characters long (at most 255)');
  });

  it('counts the Docker Hub normalisation towards the 255 limit', () => {
    // docker.io/library/ is 18 characters: a 238-character official name fits, 239 does not.
    expect(parseReference('a'.repeat(237)).repository).toHaveLength(245);
    expect(failure(() => parseReference('a'.repeat(238)))).toContain('at most 255');
  });

  const invalid: [string, string][] = [
    ['', 'reference "": is empty'],
    ['ghcr.io/app:', 'tag is empty (remove the trailing ":")'],
    ['ghcr.io/app@', '"@" is not followed by a digest'],
    ['ghcr.io/app:v1@', '"@" is not followed by a digest'],
    ['ghcr.io/Acme/app:v1', 'repository "Acme/app" must be lower case'],
    ['Acme/app', 'repository "Acme/app" must be lower case'],
    ['UBUNTU', 'repository "library/UBUNTU" must be lower case'],
    ['Ghcr.io/x:v1', 'registry "Ghcr.io" must be lower case (use "ghcr.io")'],
    ['ghcr.io/a/../b', 'invalid path component ".."'],
    ['ghcr.io/a//b', 'has an empty path component'],
    ['ghcr.io/a/', 'has an empty path component'],
    ['ghcr.io/', 'repository is empty'],
    ['ghcr.io/:v1', 'repository is empty'],
    [`@${sha256}`, 'repository is empty'],
    ['ghcr.io/-app', 'invalid path component "-app"'],
    ['ghcr.io/app_', 'invalid path component "app_"'],
    ['ghcr.io/a___b', 'invalid path component "a___b"'],
    ['ghcr.io/a..b', 'invalid path component "a..b"'],
    ['ghcr.io/a b', 'invalid path component "a b"'],
    ['ghcr.io/app:-v1', 'tag "-v1" is invalid'],
    ['ghcr.io/app:.v1', 'tag ".v1" is invalid'],
    ['ghcr.io/app:v+1', 'tag "v+1" is invalid'],
    [`ghcr.io/app:${'t'.repeat(129)}`, 'is 129 characters long (at most 128)'],
    ['ghcr.io/app@sha256:abc', 'digest "sha256:abc": sha256 needs 64 lower-case hex characters'],
    [`ghcr.io/app@sha256:${'A'.repeat(64)}`, 'sha256 needs 64 lower-case hex characters'],
    [`ghcr.io/app@md5:${hex64}`, 'unsupported algorithm "md5"'],
    ['ghcr.io/app@latest', 'expected algorithm:hex'],
    [`ghcr.io/app@${sha256}@${sha256}`, 'sha256 needs 64'],
    ['ghcr.io:/app', 'registry "ghcr.io:" has an empty port'],
    ['ghcr.io:0/app', 'has an invalid port "0"'],
    ['ghcr.io:65536/app', 'has an invalid port "65536"'],
    ['ghcr.io:http/app', 'has an invalid port "http"'],
    ['-ghcr.io/app', 'registry "-ghcr.io" is not a valid host name'],
    ['ghcr..io/app', 'is not a valid host name'],
    ['ghcr_io.com/app', 'is not a valid host name'],
    ['999.0.0.1/app', 'registry "999.0.0.1" is not a valid IPv4 address'],
    ['::1/app', 'write IPv6 addresses in brackets'],
    ['[::1/app', 'has no closing "]"'],
    ['[zz::1]/app', 'holds "zz::1", not an IPv6 address'],
    ['[fe80::1%eth0]:5000/app', 'not an IPv6 address'],
    ['[::1]x/app', 'has characters after "]" that are not a port'],
    ['[::1]:5000', 'has no repository'],
    ['[::1]', 'has no repository'],
  ];

  it.each(invalid)('refuses %j', (input, detail) => {
    const message = failure(() => parseReference(input));
    expect(message).toContain(detail);
    expect(message.startsWith(`reference ${JSON.stringify(input)}: `)).toBe(true);
  });

  it('keeps the digest error as the cause', () => {
    try {
      parseReference('ghcr.io/app@sha256:abc');
      expect.unreachable();
    } catch (err) {
      expect(isLadingError((err as Error).cause, ErrorCodes.usage)).toBe(true);
    }
  });

  it('refuses URLs without echoing user info', () => {
    const message = failure(() => parseReference('https://user:s3cret@ghcr.io/app'));
    expect(message).toContain('a reference has no scheme');
    expect(message).not.toContain('s3cret');
    expect(message).toContain('https://***@ghcr.io/app');
  });
});

describe('parseTarget', () => {
  it('dispatches registry references to parseReference', () => {
    expect(parseTarget('ghcr.io/acme/app:v1')).toStrictEqual({
      kind: 'registry',
      registry: 'ghcr.io',
      repository: 'acme/app',
      tag: 'v1',
    });
  });

  const layouts: [string, { path: string; tag?: string; digest?: string }][] = [
    ['oci:./out', { path: './out' }],
    ['oci:./out:v1', { path: './out', tag: 'v1' }],
    ['oci:out', { path: 'out' }],
    [`oci:/abs/dir@${sha256}`, { path: '/abs/dir', digest: sha256 }],
    [`oci:/abs/dir:v1@${sha256}`, { path: '/abs/dir', tag: 'v1', digest: sha256 }],
    // A ":" before the last "/" is part of the directory.
    ['oci:/data/a:b/c', { path: '/data/a:b/c' }],
    ['oci:/data/a:b/c:v2', { path: '/data/a:b/c', tag: 'v2' }],
    // A trailing "/" ends the directory, so its last component may hold ":" or "@".
    ['oci:./a:b/', { path: './a:b/' }],
    ['oci:./a:b/:v1', { path: './a:b/', tag: 'v1' }],
    ['oci:./a@b/', { path: './a@b/' }],
    ['oci:/', { path: '/' }],
  ];

  it.each(layouts)('parses layout %s', (input, expected) => {
    expect(parseTarget(input)).toStrictEqual({ kind: 'layout', ...expected });
  });

  it.each(layouts)('round-trips layout %s through formatTarget', (input) => {
    const target = parseTarget(input);
    expect(parseTarget(formatTarget(target))).toStrictEqual(target);
  });

  it('formats a layout whose last component holds ":" with a trailing "/"', () => {
    expect(formatTarget({ kind: 'layout', path: './a:b', tag: 'v1' })).toBe('oci:./a:b/:v1');
    expect(parseTarget('oci:./a:b/:v1')).toMatchObject({ path: './a:b/', tag: 'v1' });
    expect(formatTarget({ kind: 'layout', path: './out', digest: sha256 })).toBe(`oci:./out@${sha256}`);
  });

  it('round-trips registry targets', () => {
    const target = parseTarget(`ubuntu:24.04@${sha256}`);
    expect(formatTarget(target)).toBe(`docker.io/library/ubuntu:24.04@${sha256}`);
  });

  const badLayouts: [string, string][] = [
    ['oci:', 'layout directory is empty'],
    ['oci::v1', 'layout directory is empty'],
    ['oci:./out:', 'tag is empty'],
    ['oci:./out@', '"@" is not followed by a digest'],
    ['oci:./out@sha256:1234', 'sha256 needs 64'],
    ['oci:./out:-x', 'tag "-x" is invalid'],
  ];

  it.each(badLayouts)('refuses layout %j', (input, detail) => {
    const message = failure(() => parseTarget(input));
    expect(message).toContain(detail);
    expect(message.startsWith(`reference ${JSON.stringify(input)}: `)).toBe(true);
  });
});

describe('Docker Hub helpers', () => {
  it('dials registry-1.docker.io for Docker Hub and the registry otherwise', () => {
    expect(dialHost(parseReference('ubuntu').registry)).toBe('registry-1.docker.io');
    expect(dialHost('index.docker.io')).toBe(DockerHub.host);
    expect(dialHost('ghcr.io')).toBe('ghcr.io');
    expect(dialHost('localhost:5000')).toBe('localhost:5000');
    expect(dialHost('docker.io:5000')).toBe('docker.io:5000');
  });

  it('keys Docker Hub credentials as docker login does', () => {
    expect(credentialKey('docker.io')).toBe('https://index.docker.io/v1/');
    expect(credentialKey('registry-1.docker.io')).toBe('https://index.docker.io/v1/');
    expect(credentialKey('ghcr.io')).toBe('ghcr.io');
    expect(credentialKey('[::1]:5000')).toBe('[::1]:5000');
  });
});

describe('plainHTTPByDefault', () => {
  it.each([
    ['localhost', true],
    ['localhost:5000', true],
    ['127.0.0.1', true],
    ['127.0.0.1:5000', true],
    ['127.1.2.3:80', true],
    ['[::1]', true],
    ['[::1]:5000', true],
    ['[0:0:0:0:0:0:0:1]:5000', true],
    ['docker.io', false],
    ['ghcr.io', false],
    ['localhost.example.com', false],
    ['128.0.0.1:5000', false],
    ['10.0.0.1:5000', false],
    ['192.168.1.1', false],
    ['[::2]:5000', false],
    ['[2001:db8::1]', false],
  ])('%s → %s', (registry, expected) => {
    expect(plainHTTPByDefault(registry)).toBe(expected);
  });
});
