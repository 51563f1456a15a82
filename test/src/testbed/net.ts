import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** A free TCP port on 127.0.0.1, found by binding port 0 and releasing it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => {
        resolve(port);
      });
    });
  });
}

/**
 * Polls `probe` until it returns true, every 50 ms, for at most `attempts` tries (default 200, about 10 s).
 * Throws `what` with the last error when it never does. Bounded by count, not by a test's wall clock.
 */
export async function waitFor(what: string, probe: () => Promise<boolean>, attempts = 200): Promise<void> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      if (await probe()) return;
    } catch (e) {
      last = e;
    }
    await delay(50);
  }
  throw new Error(`test bed: ${what} did not come up`, { cause: last });
}
