import { describe, expect, it } from 'vitest';
import { isLadingError } from '@lading/core';
import { PredicateTypeCosignSign, StatementTypeV01, StatementTypeV1 } from './media-types.js';
import { buildStatement, parseStatement, serializeStatement, statementHasSubject } from './statement.js';

const hex = 'ab'.repeat(32);
const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex}`, size: 123 };

describe('buildStatement', () => {
  it('writes what cosign 3 writes for an image signature: v1, digest-only subject, sign predicate, {}', () => {
    const statement = buildStatement(subject);
    expect(JSON.parse(Buffer.from(serializeStatement(statement)).toString())).toEqual({
      _type: StatementTypeV1,
      subject: [{ digest: { sha256: hex } }],
      predicateType: PredicateTypeCosignSign,
      predicate: {},
    });
  });

  it('keeps the field order _type, subject, predicateType, predicate in the payload', () => {
    const text = Buffer.from(serializeStatement(buildStatement(subject, 'https://slsa.dev/provenance/v1', { a: 1 })));
    expect(text.toString()).toBe(
      `{"_type":"${StatementTypeV1}","subject":[{"digest":{"sha256":"${hex}"}}],` +
        '"predicateType":"https://slsa.dev/provenance/v1","predicate":{"a":1}}',
    );
  });

  it('names a sha512 subject by its algorithm', () => {
    const digest = `sha512:${'c'.repeat(128)}`;
    expect(buildStatement({ ...subject, digest }).subject).toEqual([{ digest: { sha512: 'c'.repeat(128) } }]);
  });

  it('refuses a malformed digest and an empty predicate type with ERR_LADING_USAGE', () => {
    expect(() => buildStatement({ ...subject, digest: 'sha256:xyz' })).toThrow(/statement subject/);
    try {
      buildStatement(subject, '');
      expect.unreachable();
    } catch (e) {
      expect(isLadingError(e, 'ERR_LADING_USAGE')).toBe(true);
    }
  });
});

describe('parseStatement', () => {
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

  it('reads v1 and cosign attest v0.1 (subject with a name)', () => {
    const v01 = parseStatement(
      encode({
        _type: StatementTypeV01,
        subject: [{ name: 'ghcr.io/acme/app', digest: { sha256: hex } }],
        predicateType: 'https://slsa.dev/provenance/v0.2',
        predicate: { builder: { id: 'x' } },
      }),
    );
    expect(v01.subject).toEqual([{ name: 'ghcr.io/acme/app', digest: { sha256: hex } }]);
    expect(v01.predicateType).toBe('https://slsa.dev/provenance/v0.2');
    expect(parseStatement(serializeStatement(buildStatement(subject))).predicateType).toBe(PredicateTypeCosignSign);
  });

  it.each([
    ['not JSON', new TextEncoder().encode('{'), /not UTF-8 JSON/],
    ['an array', encode([]), /not a JSON object/],
    ['an unknown _type', encode({ _type: 'https://in-toto.io/Statement/v2', subject: [] }), /is not in-toto Statement/],
    ['no subject', encode({ _type: StatementTypeV1, subject: [], predicateType: 'x' }), /no subject/],
    [
      'a subject without digest',
      encode({ _type: StatementTypeV1, subject: [{ name: 'a' }], predicateType: 'x' }),
      /no digest/,
    ],
    [
      'a non-string digest',
      encode({ _type: StatementTypeV1, subject: [{ digest: { sha256: 1 } }], predicateType: 'x' }),
      /not a string/,
    ],
    [
      'no predicate type',
      encode({ _type: StatementTypeV1, subject: [{ digest: { sha256: hex } }] }),
      /no predicateType/,
    ],
  ])('refuses %s', (_name, payload, message) => {
    expect(() => parseStatement(payload)).toThrow(message);
  });
});

describe('statementHasSubject', () => {
  it('matches by algorithm and hex, ignoring hex case and other algorithms', () => {
    const statement = parseStatement(
      new TextEncoder().encode(
        JSON.stringify({
          _type: StatementTypeV1,
          subject: [{ digest: { sha512: 'd'.repeat(128) } }, { digest: { sha256: hex.toUpperCase() } }],
          predicateType: 'x',
        }),
      ),
    );
    expect(statementHasSubject(statement, `sha256:${hex}`)).toBe(true);
    expect(statementHasSubject(statement, `sha256:${'cd'.repeat(32)}`)).toBe(false);
    expect(statementHasSubject(statement, `sha512:${'e'.repeat(128)}`)).toBe(false);
  });
});
