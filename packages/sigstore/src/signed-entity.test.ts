import type { ObjectIdentifierValuePair } from '@sigstore/protobuf-specs';
import { describe, expect, it } from 'vitest';
import { CertificateExtensionOIDs } from './identity-policy.js';
import { certificateExtensions } from './signed-entity.js';

/** An OID/value pair as `@sigstore/verify` reports a certificate extension (the value is the extension's content). */
function pair(oid: string, value: Buffer): ObjectIdentifierValuePair {
  return { oid: { id: oid.split('.').map(Number) }, value };
}

/** DER UTF8String: tag 12, definite length (short or long form), the UTF-8 bytes. */
function utf8String(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length =
    bytes.length < 0x80 ? Buffer.from([bytes.length]) : Buffer.from([0x82, bytes.length >> 8, bytes.length & 0xff]);
  return Buffer.concat([Buffer.from([0x0c]), length, bytes]);
}

const v1Issuer = '1.3.6.1.4.1.57264.1.1';
const keyUsage = '2.5.29.15';

describe('certificateExtensions', () => {
  it('names the Fulcio extensions present, decoding DER UTF8Strings (short and long lengths)', () => {
    const long = `https://github.com/acme/${'x'.repeat(300)}`;
    const extensions = certificateExtensions([
      pair(keyUsage, Buffer.from([0x03, 0x02, 0x07, 0x80])),
      pair(CertificateExtensionOIDs.issuer, utf8String('https://token.actions.githubusercontent.com')),
      pair(v1Issuer, Buffer.from('https://ignored.example')),
      pair(CertificateExtensionOIDs.sourceRepositoryURI, utf8String(long)),
      pair(CertificateExtensionOIDs.sourceRepositoryRef, utf8String('refs/heads/main')),
      pair(CertificateExtensionOIDs.sourceRepositoryVisibilityAtSigning, utf8String('public')),
    ]);
    expect(extensions).toEqual({
      issuer: 'https://token.actions.githubusercontent.com',
      sourceRepositoryURI: long,
      sourceRepositoryRef: 'refs/heads/main',
      sourceRepositoryVisibilityAtSigning: 'public',
    });
  });

  it('falls back to the deprecated raw issuer extension when there is no v2 one', () => {
    expect(certificateExtensions([pair(v1Issuer, Buffer.from('https://accounts.google.com'))])).toEqual({
      issuer: 'https://accounts.google.com',
    });
    expect(certificateExtensions([])).toEqual({});
  });

  it('leaves out values that are not well-formed DER UTF8Strings (a policy requiring them then fails)', () => {
    const ref = CertificateExtensionOIDs.sourceRepositoryRef;
    for (const value of [
      Buffer.from('refs/heads/main'), // raw, no DER
      Buffer.from([0x16, 0x03, 0x61, 0x62, 0x63]), // IA5String
      Buffer.from([0x0c, 0x05, 0x61, 0x62]), // length beyond the value
      Buffer.concat([utf8String('main'), Buffer.from([0x00])]), // trailing byte
      Buffer.from([0x0c, 0x02, 0xc3, 0x28]), // not UTF-8
      Buffer.from([0x0c, 0x80]), // indefinite length
    ]) {
      expect(certificateExtensions([pair(ref, value)]), value.toString('hex')).toEqual({});
    }
  });

  it('refuses a certificate with an extension twice', () => {
    const uri = CertificateExtensionOIDs.sourceRepositoryURI;
    expect(() =>
      certificateExtensions([
        pair(uri, utf8String('https://github.com/acme/app')),
        pair(uri, utf8String('https://github.com/evil/app')),
      ]),
    ).toThrow('certificate has extension 1.3.6.1.4.1.57264.1.12 more than once');
  });
});
