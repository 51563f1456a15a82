import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { answersHTTP, type RunningServer, startServer, withFreePort } from './process.js';
import { toolPath } from './tools.js';

/** Options of {@link startCraneRegistry}. */
export interface CraneRegistryOptions {
  /** Folder for `registry.log` (and `blobs/` with `disk`); created if needed. */
  dir: string;
  /** Keep blobs in `<dir>/blobs` (`--disk`) instead of memory. Default false: contents die with the process. */
  disk?: boolean;
}

/** A running `crane registry serve`. */
export interface RunningCraneRegistry extends RunningServer {
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
}

/**
 * Starts go-containerregistry's registry (`crane registry serve --address 127.0.0.1:PORT`, plain HTTP, no auth,
 * no referrers API) on a free port and waits until `/v2/` answers. Logs go to `<dir>/registry.log`; a failed start
 * throws with the log's tail. The environment is `PATH` and `HOME=<dir>` only.
 */
export async function startCraneRegistry(options: CraneRegistryOptions): Promise<RunningCraneRegistry> {
  await mkdir(options.dir, { recursive: true });
  const disk = options.disk ? ['--disk', path.join(options.dir, 'blobs')] : [];
  return withFreePort(async (port) => {
    const host = `127.0.0.1:${port}`;
    const url = `http://${host}`;
    const server = await startServer({
      name: 'crane registry',
      command: toolPath('crane'),
      args: ['registry', 'serve', '--address', host, ...disk],
      logFile: path.join(options.dir, 'registry.log'),
      cwd: options.dir,
      ready: () => answersHTTP(`${url}/v2/`),
    });
    return Object.assign(server, { host, url });
  });
}
