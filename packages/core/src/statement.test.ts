import { describe, expect, it } from 'vitest';

import {
  buildStatement,
  parseStatement,
  serializeStatement,
  statementDigests,
  StatementTypeV01,
  StatementTypeV1,
} from './statement.js';

const hex = 'ab'.repeat(32);
const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex}`, size: 123 };
const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('statements (one parser for both signing plugins)', () => {
  it('builds the manifest subject first, then the extra subjects, and parses back what it wrote', () => {
    const statement = buildStatement(subject, 'https://example.com/p', undefined, [
      { name: 'git commit', digest: { gitCommit: 'C0FFEE' } },
    ]);
    const parsed = parseStatement(serializeStatement(statement), { types: [StatementTypeV1] });
    expect(parsed).toEqual({ ...statement, predicate: {} });
    // Digests are compared in lower case, whatever case the signer wrote.
    expect(statementDigests(parsed)).toEqual([`sha256:${hex}`, 'gitCommit:c0ffee']);
  });

  it('reads only the _types asked for: v0.1 by default, not where only v1 is accepted', () => {
    const v01 = encode({ _type: StatementTypeV01, subject: [{ digest: { sha256: hex } }], predicateType: 't' });
    expect(parseStatement(v01)._type).toBe(StatementTypeV01);
    expect(() => parseStatement(v01, { types: [StatementTypeV1] })).toThrow(
      /statement _type "https:\/\/in-toto.io\/Statement\/v0.1" is not in-toto Statement v1$/,
    );
  });

  it('refuses a digest that is not a string instead of dropping it', () => {
    const bad = encode({ _type: StatementTypeV1, subject: [{ digest: { sha256: 1 } }], predicateType: 't' });
    expect(() => parseStatement(bad)).toThrow(/statement subject 0 digest sha256 is not a string/);
  });
});
