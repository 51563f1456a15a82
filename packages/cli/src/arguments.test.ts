import { describe, expect, it } from 'vitest';

import { parseAnnotations, parsePathArgument, splitPushReference } from './arguments.js';

describe('splitPushReference', () => {
  it('splits comma-separated tags off a registry reference', () => {
    expect(splitPushReference('ghcr.io/acme/config:v1,latest')).toEqual({
      base: 'ghcr.io/acme/config',
      tags: ['v1', 'latest'],
    });
    expect(splitPushReference('127.0.0.1:5000/acme/config:v1')).toEqual({
      base: '127.0.0.1:5000/acme/config',
      tags: ['v1'],
    });
  });

  it('keeps a port and IPv6 colons out of the tags', () => {
    expect(splitPushReference('localhost:5000/acme/config')).toEqual({ base: 'localhost:5000/acme/config', tags: [] });
    expect(splitPushReference('[::1]:5000/acme/config:v2')).toEqual({ base: '[::1]:5000/acme/config', tags: ['v2'] });
  });

  it('drops duplicate tags', () => {
    expect(splitPushReference('ghcr.io/acme/x:v1,v1,v2').tags).toEqual(['v1', 'v2']);
  });

  it('splits tags off an OCI layout reference', () => {
    expect(splitPushReference('oci:./out:v1,v2')).toEqual({ base: 'oci:./out', tags: ['v1', 'v2'] });
    expect(splitPushReference('oci:layout')).toEqual({ base: 'oci:layout', tags: [] });
    expect(splitPushReference('oci:/data/a:b/c')).toEqual({ base: 'oci:/data/a:b/c', tags: [] });
  });

  it('refuses invalid tags and references with the core grammar', () => {
    expect(() => splitPushReference('ghcr.io/acme/x:v1,')).toThrow(
      expect.objectContaining({ code: 'ERR_LADING_INVALID_REFERENCE' }),
    );
    expect(() => splitPushReference('ghcr.io/acme/x:v1,-bad')).toThrow(/tag "-bad" is invalid/);
    expect(() => splitPushReference('ghcr.io/Acme/x:v1')).toThrow(/must be lower case/);
  });

  it('refuses a digest', () => {
    expect(() => splitPushReference(`ghcr.io/acme/x@sha256:${'a'.repeat(64)}`)).toThrow(
      expect.objectContaining({
        code: 'ERR_LADING_USAGE',
        message: expect.stringMatching(/cannot name a digest/) as unknown,
      }),
    );
    expect(() => splitPushReference(`oci:out@sha256:${'a'.repeat(64)}`)).toThrow(/cannot name a digest/);
  });
});

describe('parsePathArgument', () => {
  const none = (): boolean => false;

  it('reads path:mediaType', () => {
    expect(parsePathArgument('app.yaml:application/yaml', none)).toEqual({
      path: 'app.yaml',
      mediaType: 'application/yaml',
    });
    expect(parsePathArgument('bin/tool:application/vnd.acme.tool+octet-stream', none)).toEqual({
      path: 'bin/tool',
      mediaType: 'application/vnd.acme.tool+octet-stream',
    });
  });

  it('leaves plain paths alone', () => {
    expect(parsePathArgument('./config', none)).toEqual({ path: './config' });
    expect(parsePathArgument('notes:draft', none)).toEqual({ path: 'notes:draft' });
  });

  it('keeps an existing path whose name looks like path:type/subtype', () => {
    expect(parsePathArgument('a:b/c', (p) => p === 'a:b/c')).toEqual({ path: 'a:b/c' });
  });

  it('reads -:mediaType as standard input with a media type', () => {
    expect(parsePathArgument('-:text/plain', () => true)).toEqual({ path: '-', mediaType: 'text/plain' });
    expect(parsePathArgument('-', none)).toEqual({ path: '-' });
  });
});

describe('parseAnnotations', () => {
  it('reads key=value pairs, values may hold "="', () => {
    expect(parseAnnotations(['a=1', 'b=x=y', 'c='])).toEqual({ a: '1', b: 'x=y', c: '' });
  });

  it('refuses pairs without a key', () => {
    expect(() => parseAnnotations(['novalue'])).toThrow(/--annotation "novalue": expected key=value/);
    expect(() => parseAnnotations(['=v'])).toThrow(/expected key=value/);
  });

  it('reads a JSON file, flags winning', () => {
    const file = { name: 'a.json', text: JSON.stringify({ a: 'file', b: 'file' }) };
    expect(parseAnnotations(['b=flag'], file)).toEqual({ a: 'file', b: 'flag' });
  });

  it("accepts oras's $manifest section and refuses per-file annotations", () => {
    expect(parseAnnotations([], { name: 'a.json', text: '{"$manifest":{"k":"v"}}' })).toEqual({ k: 'v' });
    expect(() => parseAnnotations([], { name: 'a.json', text: '{"$manifest":{},"app.yaml":{"k":"v"}}' })).toThrow(
      /annotations for "app.yaml": only manifest annotations are supported/,
    );
  });

  it('refuses files that are not an object of strings', () => {
    expect(() => parseAnnotations([], { name: 'a.json', text: '[1]' })).toThrow(/a.json: expected a JSON object/);
    expect(() => parseAnnotations([], { name: 'a.json', text: '{"n":1}' })).toThrow(/"n" must be/);
    expect(() => parseAnnotations([], { name: 'a.json', text: '{' })).toThrow(
      expect.objectContaining({
        code: 'ERR_LADING_USAGE',
        message: expect.stringMatching(/a.json: not JSON/) as unknown,
      }),
    );
  });
});
