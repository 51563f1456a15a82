/**
 * Revoked keys, as `ssh-keygen -Y verify -r FILE` reads a file of public keys: one per line in authorized_keys form
 * (`<type> <base64> [comment]`; blank lines and `#` comments skipped). A certificate is revoked when its key or its
 * CA key is listed.
 */
import { readFileSync } from 'node:fs';
import { ErrorCodes, LadingError } from '@lading/core';
import { fingerprintOf, parsePublicKeyLine, plainKeyBlob, type SSHPublicKey } from './keys.js';

/** A set of revoked keys. */
export interface RevokedKeys {
  /** Undefined when `key` may sign; otherwise the message saying which key is revoked and where it is listed. */
  check(key: SSHPublicKey): string | undefined;
}

/**
 * Loads revoked keys from a path or `{ text, name }`; `undefined` means none. Throws `ERR_LADING_USAGE` naming the
 * file and line for an unreadable file or a malformed line (a list lading cannot read whole is refused). Binary KRLs
 * (`ssh-keygen -k`) are not read: they are refused with a message saying so.
 */
export function loadRevokedKeys(source: string | { text: string; name: string } | undefined): RevokedKeys {
  if (source === undefined) return { check: () => undefined };
  const name = typeof source === 'string' ? source : source.name;
  let bytes: Buffer;
  try {
    bytes = typeof source === 'string' ? readFileSync(source) : Buffer.from(source.text, 'utf8');
  } catch (e) {
    throw new LadingError(ErrorCodes.usage, `revoked keys ${name}: cannot read it (${(e as Error).message})`, {
      cause: e,
    });
  }
  if (bytes.subarray(0, 8).toString('latin1') === 'SSHKRL\n\0') {
    throw new LadingError(
      ErrorCodes.usage,
      `revoked keys ${name}: a binary KRL, which lading does not read yet; list the revoked public keys one per line`,
    );
  }
  const listed = new Map<string, string>();
  bytes
    .toString('utf8')
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      try {
        const key = parsePublicKeyLine(line, `${name}:${index + 1}`);
        listed.set(plainKeyBlob(key).toString('base64'), `${name}:${index + 1}`);
      } catch (e) {
        throw new LadingError(ErrorCodes.usage, `revoked keys ${(e as Error).message}`, { cause: e });
      }
    });
  return {
    check(key: SSHPublicKey): string | undefined {
      const own = listed.get(plainKeyBlob(key).toString('base64'));
      if (own !== undefined) return `revoked key: ${fingerprintOf(plainKeyBlob(key))} is listed in ${own}`;
      const ca = key.certificate?.signatureKey;
      const caListed = ca ? listed.get(plainKeyBlob(ca).toString('base64')) : undefined;
      if (ca && caListed !== undefined)
        return `revoked key: the certificate's CA ${ca.fingerprint} is listed in ${caListed}`;
      return undefined;
    },
  };
}
