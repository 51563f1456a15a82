// schemas/policy.v1.json and the parser must agree on the fields of every object of a version 1 policy: each object
// of the schema lists exactly the fields parsePolicy accepts there (read from its "unknown field" message).
import { readFile } from 'node:fs/promises';

import { describe, expect, it } from 'vitest';

import { parsePolicy, PolicyCertificateExtensions, PolicyError } from './document.js';

interface SchemaObject {
  properties: Record<string, unknown>;
  additionalProperties: boolean;
}

const schema = JSON.parse(
  await readFile(new URL('../../../../schemas/policy.v1.json', import.meta.url), 'utf8'),
) as SchemaObject & { $defs: Record<string, SchemaObject> };

/** The fields parsePolicy allows where `document` has the unknown field `zz`. */
function allowedFields(document: string): string[] {
  try {
    parsePolicy(document, 'p.yaml', { folder: '/' });
  } catch (error) {
    const problem = (error as PolicyError).problems.find((p) => p.field.endsWith('zz'));
    const allowed = /unknown field \(allowed: (.*)\)$/.exec(problem?.message ?? '')?.[1];
    if (allowed !== undefined) return allowed.split(', ').sort();
  }
  throw new Error(`no unknown-field problem for:\n${document}`);
}

const rule = (inner: string) => `version: 1\nrules:\n  - match: localhost:5000/**\n${inner}`;

describe('schemas/policy.v1.json', () => {
  it('lists exactly the fields the parser accepts, object by object', () => {
    const fields = (o: SchemaObject | undefined) => Object.keys(o?.properties ?? {}).sort();
    const cases: [SchemaObject | undefined, string][] = [
      [schema, 'version: 1\nzz: 1\n'],
      [schema.$defs.rule, rule('    zz: 1\n    authorities: [{ key: { file: k } }]\n')],
      [schema.$defs.authority, rule('    authorities: [{ zz: 1, key: { file: k } }]\n')],
      [schema.$defs.keyless, rule('    authorities: [{ keyless: { zz: 1, issuer: i, subject: s } }]\n')],
      [schema.$defs.key, rule('    authorities: [{ key: { zz: 1, file: k } }]\n')],
      [schema.$defs.ssh, rule('    authorities: [{ ssh: { zz: 1, allowedSigners: a, principals: [p] } }]\n')],
      [
        schema.$defs.attestation,
        rule('    authorities: [{ key: { file: k } }]\n    attestations: [{ zz: 1, predicateType: "https://x" }]\n'),
      ],
      [
        schema.$defs.condition,
        rule(
          '    authorities: [{ key: { file: k } }]\n    attestations: [{ predicateType: "https://x", conditions: [{ zz: 1, path: a, equals: 1 }] }]\n',
        ),
      ],
    ];
    for (const [object, document] of cases) {
      expect(object?.additionalProperties, document).toBe(false);
      expect(fields(object), document).toEqual(allowedFields(document));
    }
  });

  it('names the same certificate extensions as the parser', () => {
    const keyless = schema.$defs.keyless?.properties as Record<string, SchemaObject>;
    for (const name of ['extensions', 'extensionRegExps']) {
      expect(Object.keys(keyless[name]?.properties ?? {}).sort()).toEqual([...PolicyCertificateExtensions].sort());
    }
  });
});
