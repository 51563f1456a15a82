/**
 * Proxy selection the way Go tools (oras, crane, cosign, docker) do it, so lading behaves like them in the same
 * environment: `HTTPS_PROXY` for https, `HTTP_PROXY` for http (an http proxy is never used for https), `NO_PROXY`
 * exceptions, and loopback hosts never proxied. undici's own `EnvHttpProxyAgent` differs on the last two.
 */
import { BlockList, isIP } from 'node:net';

import { Agent, ProxyAgent, type Dispatcher } from 'undici';

/** Proxy settings, usually read from the environment with {@link proxySettingsFromEnv}. */
export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  /** Comma- or space-separated hosts, `.domain` suffixes, `host:port`, IPs, CIDRs, or `*`. */
  noProxy?: string;
}

/** Reads `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` (upper case first, then lower case, as Go does). */
export function proxySettingsFromEnv(env: Readonly<Record<string, string | undefined>>): ProxySettings {
  const pick = (name: string): string | undefined => {
    const v = env[name] ?? env[name.toLowerCase()];
    return v === undefined || v === '' ? undefined : v;
  };
  const out: ProxySettings = {};
  const http = pick('HTTP_PROXY');
  const https = pick('HTTPS_PROXY');
  const no = pick('NO_PROXY');
  if (http !== undefined) out.httpProxy = http;
  if (https !== undefined) out.httpsProxy = https;
  if (no !== undefined) out.noProxy = no;
  return out;
}

function bare(hostname: string): string {
  return hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** True when `url` must be reached directly: loopback hosts always, and whatever `noProxy` names. */
export function bypassesProxy(url: URL, noProxy = ''): boolean {
  const host = bare(url.hostname);
  const family = isIP(host);
  if (
    host === 'localhost' ||
    (family === 4 && loopback.check(host, 'ipv4')) ||
    (family === 6 && loopback.check(host, 'ipv6'))
  ) {
    return true;
  }
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of noProxy.split(/[\s,]+/)) {
    const rule = raw.trim().toLowerCase();
    if (!rule) continue;
    if (rule === '*') return true;
    if (rule.includes('/') && family !== 0) {
      const [net = '', bits = ''] = rule.split('/');
      const netFamily = isIP(net);
      if (netFamily === family) {
        const list = new BlockList();
        list.addSubnet(net, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
        if (list.check(host, family === 4 ? 'ipv4' : 'ipv6')) return true;
      }
      continue;
    }
    let ruleHost = rule;
    let rulePort: string | undefined;
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(rule);
    if (m) {
      ruleHost = m[1] ?? rule;
      rulePort = m[2];
    }
    ruleHost = bare(ruleHost);
    if (rulePort !== undefined && rulePort !== port) continue;
    if (ruleHost.startsWith('.') || ruleHost.startsWith('*.')) {
      const suffix = ruleHost.replace(/^\*/, '');
      if (host.endsWith(suffix) || host === suffix.slice(1)) return true;
    } else if (host === ruleHost || (family === 0 && host.endsWith(`.${ruleHost}`))) {
      return true;
    }
  }
  return false;
}

/**
 * A dispatcher that sends each request directly or through the proxy its URL's scheme calls for
 * ({@link bypassesProxy}). `tlsOptions` apply to the registry connections (also through a proxy's CONNECT tunnel).
 * Returns the dispatcher and a function closing every pool it made.
 */
export function proxyDispatcher(
  settings: ProxySettings,
  tlsOptions: Record<string, unknown>,
  agentOptions: Agent.Options = {},
): { dispatcher: Dispatcher; close: () => Promise<void> } {
  const direct = new Agent({ ...agentOptions, connect: tlsOptions });
  const proxies: Dispatcher[] = [];
  const make = (uri: string | undefined): Dispatcher | undefined => {
    if (uri === undefined) return undefined;
    const agent = new ProxyAgent({ ...agentOptions, uri, requestTls: tlsOptions });
    proxies.push(agent);
    return agent;
  };
  const httpProxy = make(settings.httpProxy);
  const httpsProxy = make(settings.httpsProxy);
  const dispatcher = direct.compose((dispatch) => (opts, handler) => {
    const origin = new URL(String(opts.origin));
    const proxy = origin.protocol === 'https:' ? httpsProxy : httpProxy;
    if (proxy && !bypassesProxy(origin, settings.noProxy)) return proxy.dispatch(opts, handler);
    return dispatch(opts, handler);
  });
  return {
    dispatcher,
    close: async () => {
      await Promise.all([direct.close(), ...proxies.map((p) => p.close())]);
    },
  };
}
