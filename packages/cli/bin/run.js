#!/usr/bin/env node
// libuv's threadpool (4 threads by default) runs both zlib and file-system calls; a pull of many small files or a
// push of a folder keeps more than four of them busy at once. Measured: 2,000-file pull 1.6 s → 1.15 s with 16.
// It must be set before the pool starts, hence before oclif (and anything doing I/O) is imported.
process.env.UV_THREADPOOL_SIZE ??= '16';

// `@oclif/core/execute`, not the `@oclif/core` barrel: the barrel also loads semver (47 modules, for a Node version
// warning) and every oclif helper; `lading --help` and `lading version` need neither (118 modules instead of 158).
const { execute } = await import('@oclif/core/execute');
await execute({ dir: import.meta.url });
