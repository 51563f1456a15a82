import { describe, expect, it } from 'vitest';

import { longListing } from './ls.js';

describe('longListing', () => {
  it('shows mode, size, short digest, path and link targets in columns', () => {
    const hex = 'ab'.repeat(32);
    expect(
      longListing([
        { path: 'config', type: 'dir', mode: 0o755, layer: 0 },
        { path: 'config/app.yaml', type: 'file', mode: 0o644, size: 12, digest: `sha256:${hex}`, layer: 0 },
        { path: 'config/current', type: 'symlink', mode: 0o777, target: 'app.yaml', layer: 0 },
        { path: 'tool', type: 'file', mode: 0o755, size: 1048576, digest: `sha256:${hex}`, layer: 1 },
      ]),
    ).toEqual([
      'drwxr-xr-x        -  -                    config',
      '-rw-r--r--       12  sha256:abababababab  config/app.yaml',
      'lrwxrwxrwx        -  -                    config/current -> app.yaml',
      '-rwxr-xr-x  1048576  sha256:abababababab  tool',
    ]);
  });

  it('shows the mode pull writes when the artifact records none (no table of contents)', () => {
    expect(longListing([{ path: 'notes.txt', type: 'file', size: 5, layer: 0 }])).toEqual([
      '-rw-r--r--  5  -                    notes.txt',
    ]);
  });

  it('escapes control characters in paths and link targets from the registry', () => {
    expect(
      longListing([
        { path: 'clear\u001b[2J', type: 'file', size: 1, layer: 0 },
        { path: 'a/l', type: 'symlink', mode: 0o777, target: 'x\u001b]0;title\u0007', layer: 0 },
      ]),
    ).toEqual([
      '-rw-r--r--  1  -                    clear\\x1b[2J',
      'lrwxrwxrwx  -  -                    a/l -> x\\x1b]0;title\\x07',
    ]);
  });
});
