/**
 * Starting the user's browser on the login URL: `BROWSER`, else the platform's opener. Failing to start one is not
 * fatal: the URL was shown, so the user can open it.
 */
import { spawn } from 'node:child_process';

/** How to start a browser on a URL. */
export interface BrowserCommand {
  command: string;
  args: string[];
  /** Windows: pass `args` to `cmd` as written (they are already escaped for it). */
  windowsVerbatimArguments?: boolean;
}

/**
 * The command that opens `url`: `BROWSER` from `env` when set (split on spaces; each `%s` is replaced by the URL,
 * else the URL is added as the last argument), else `open` on macOS, `cmd /c start "" <url>` on Windows (with
 * cmd's metacharacters escaped, since the URL holds `&`), and `xdg-open` elsewhere. No shell is involved except
 * Windows' `cmd`.
 */
export function browserCommand(url: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): BrowserCommand {
  const browser = env.BROWSER?.trim();
  if (browser) {
    const [command = '', ...rest] = browser.split(/\s+/);
    const substituted = rest.some((arg) => arg.includes('%s'));
    const args = rest.map((arg) => arg.replaceAll('%s', url));
    return { command, args: substituted ? args : [...args, url] };
  }
  if (platform === 'darwin') return { command: 'open', args: [url] };
  if (platform === 'win32') {
    // `start` takes its first quoted argument as the window title, hence the empty one.
    const escaped = url.replace(/[\^&|<>()%!"]/g, '^$&');
    return { command: 'cmd', args: ['/c', 'start', '""', escaped], windowsVerbatimArguments: true };
  }
  return { command: 'xdg-open', args: [url] };
}

/** Starts the browser, detached; failures go to `onError` (the URL was shown, so the user can still paste it). */
export function openBrowser(
  url: string,
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform,
  onError: (e: Error) => void,
) {
  const { command, args, windowsVerbatimArguments } = browserCommand(url, env, platform);
  try {
    const child = spawn(command, args, {
      stdio: 'ignore',
      detached: true,
      env,
      ...(windowsVerbatimArguments ? { windowsVerbatimArguments } : {}),
    });
    child.once('error', (e) => {
      onError(new Error(`${command}: ${e.message}`));
    });
    child.once('exit', (code) => {
      if (code !== null && code !== 0) onError(new Error(`${command} exited with status ${code}`));
    });
    child.unref();
  } catch (e) {
    onError(new Error(`${command}: ${(e as Error).message}`));
  }
}
