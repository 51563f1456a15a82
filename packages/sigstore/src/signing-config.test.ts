import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ServiceSelector, type Service, type SigningConfig } from '@sigstore/protobuf-specs';
import { MediaTypeSigningConfig } from './media-types.js';
import { loadSigningConfig, parseSigningConfig, selectRekor, selectServices } from './signing-config.js';

const now = new Date('2026-06-01T00:00:00Z');

function service(url: string, start: string, options: { end?: string; version?: number } = {}): Service {
  return {
    url,
    majorApiVersion: options.version ?? 1,
    validFor: { start: new Date(start), ...(options.end ? { end: new Date(options.end) } : {}) },
    operator: 'test',
  };
}

function config(parts: Partial<SigningConfig>): SigningConfig {
  return {
    mediaType: MediaTypeSigningConfig,
    caUrls: [],
    oidcUrls: [],
    rekorTlogUrls: [],
    tsaUrls: [],
    rekorTlogConfig: { selector: ServiceSelector.ANY, count: 0 },
    tsaConfig: { selector: ServiceSelector.ANY, count: 0 },
    ...parts,
  };
}

describe('selectServices', () => {
  it('picks the most recently started live service of each kind', () => {
    const selected = selectServices(
      config({
        caUrls: [service('https://old-ca', '2024-01-01T00:00:00Z'), service('https://new-ca', '2025-01-01T00:00:00Z')],
        rekorTlogUrls: [
          service('https://ended-log', '2025-06-01T00:00:00Z', { end: '2026-01-01T00:00:00Z' }),
          service('https://log', '2024-01-01T00:00:00Z'),
          service('https://future-log', '2027-01-01T00:00:00Z'),
        ],
        tsaUrls: [service('https://tsa/api/v1/timestamp', '2024-01-01T00:00:00Z')],
      }),
      now,
    );
    expect(selected).toEqual({
      fulcioURL: 'https://new-ca',
      rekorURL: 'https://log',
      rekorAPIVersion: 1,
      tsaURL: 'https://tsa/api/v1/timestamp',
    });
  });

  it('takes Rekor v2 but not API versions this client does not speak; no log or TSA listed means none', () => {
    const selected = selectServices(
      config({
        caUrls: [
          service('https://ca-v2', '2025-01-01T00:00:00Z', { version: 2 }),
          service('https://ca', '2024-01-01T00:00:00Z'),
        ],
        rekorTlogUrls: [service('https://log-v2', '2025-01-01T00:00:00Z', { version: 2 })],
      }),
      now,
    );
    expect(selected).toEqual({ fulcioURL: 'https://ca', rekorURL: 'https://log-v2', rekorAPIVersion: 2 });
  });

  it('refuses a config without a usable Fulcio', () => {
    expect(() => selectServices(config({}), now)).toThrow(/no usable Fulcio/);
  });

  it('selectRekor picks the log without requiring a Fulcio (key signatures with a log entry)', () => {
    const logs = config({
      rekorTlogUrls: [
        service('https://log-old', '2023-01-01T00:00:00Z'),
        service('https://log', '2024-01-01T00:00:00Z'),
      ],
    });
    expect(selectRekor(logs, now)).toEqual({ url: 'https://log', majorApiVersion: 1 });
    expect(selectRekor(config({}), now)).toBeUndefined();
  });
});

describe('loadSigningConfig', () => {
  it('reads cosign JSON from a file and checks the media type', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lading-signing-config-'));
    try {
      const file = path.join(dir, 'signing_config.json');
      await writeFile(
        file,
        JSON.stringify({
          mediaType: MediaTypeSigningConfig,
          caUrls: [{ url: 'https://fulcio.example', majorApiVersion: 1, validFor: { start: '2024-01-01T00:00:00Z' } }],
          rekorTlogUrls: [],
          tsaUrls: [],
          rekorTlogConfig: { selector: 'ANY' },
          tsaConfig: { selector: 'ANY' },
        }),
      );
      expect(selectServices(await loadSigningConfig(file), now)).toEqual({ fulcioURL: 'https://fulcio.example' });
      await expect(loadSigningConfig(path.join(dir, 'missing.json'))).rejects.toThrow(
        /load signing config .*missing.json: ENOENT/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses another media type and non-JSON', () => {
    expect(() => parseSigningConfig(JSON.stringify({ mediaType: 'application/json' }), 'x.json')).toThrow(
      /load signing config x.json: media type "application\/json" is not/,
    );
    expect(() => parseSigningConfig('{', 'x.json')).toThrow(/not a signing config/);
  });
});
