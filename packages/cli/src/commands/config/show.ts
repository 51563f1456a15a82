import { stat } from 'node:fs/promises';

import * as Args from '@oclif/core/args';

import { RegistryCommand } from '../../base-command.js';
import {
  formatSource,
  LadingEnvironment,
  type LadingEnvironmentName,
  transportSettingNames,
  verifyDefaultFlags,
  type VerifyDefaults,
} from '../../config.js';
import { terminalSafe } from '../../format.js';

/** One effective setting in `lading config show --json`. */
export interface ConfigSettingJSON {
  /** The setting, named as its flag (`plain-http`, `ca-file`, `mirror`, `verify-key`…). */
  name: string;
  /** The value: a boolean, a path, a host (never the content of a key or a password). */
  value: string | boolean | string[];
  /** `flag --x`, `env LADING_X`, `file <path>:<line>`, or `default`. */
  source: string;
}

/** The settings in effect for one registry (or, with `registry` undefined, for any registry without an entry). */
export interface ConfigRegistryJSON {
  /** `host[:port]`, or undefined for the settings every other registry (and OCI layouts) get. */
  registry?: string;
  /** The settings that are set somewhere; anything not listed takes the built-in default (see docs/config.md). */
  settings: ConfigSettingJSON[];
}

/** What `lading config show --json` prints. */
export interface ConfigShowResult {
  /** The configuration file: where it is (or would be), why there, and whether it exists. */
  file: { path: string | null; source: string; exists: boolean };
  /** The registries asked for (the argument), else every registry of the file, then the default entry. */
  registries: ConfigRegistryJSON[];
  /** Every `LADING_*` variable lading reads: whether it is set, and its value unless it is a secret. */
  environment: { name: LadingEnvironmentName; set: boolean; value?: string; description: string }[];
}

/** Variables whose values `config show` never prints. */
const secretVariables: ReadonlySet<string> = new Set(['LADING_SSH_PASSPHRASE']);

/** `lading config show`: the effective settings and where each came from. */
export class ConfigShow extends RegistryCommand<typeof ConfigShow> {
  static override summary = 'Show the effective settings and where each comes from.';
  static override description = `Prints, per registry, each setting in effect — plain HTTP, insecure TLS, CA file, client certificate and key files, mirror, default verification — with its source: a flag given to this command, a LADING_* environment variable, the configuration file and line, or the default. Then the LADING_* variables lading reads. The configuration file is validated as every command does; an invalid one fails with its line and field. Secrets are never printed: key files appear as paths, LADING_SSH_PASSPHRASE only as set or unset.`;

  static override examples = [
    { description: 'Everything the configuration file sets.', command: '<%= config.bin %> config show' },
    {
      description: 'What a pull from one registry would use, with a flag overriding the file.',
      command: '<%= config.bin %> config show --no-plain-http registry.acme.internal:5000',
    },
    { description: 'As JSON.', command: '<%= config.bin %> config show --json' },
  ];

  static override args = {
    registry: Args.string({
      required: false,
      description: 'Show the settings of this registry (host[:port]). Default: every registry the file names.',
    }),
  };

  override async run(): Promise<ConfigShowResult> {
    const config = await this.effectiveConfig();
    const location = config.location;
    const exists = location.file !== undefined && (await isFile(location.file));
    const asked = this.commandRegistry();
    const hosts = asked === undefined ? config.registries : [asked];
    const registries: ConfigRegistryJSON[] = [];
    for (const registry of [...hosts, undefined]) {
      const settings: ConfigSettingJSON[] = [];
      for (const name of transportSettingNames) {
        const setting = config.transport(name, registry);
        if (setting !== undefined) settings.push({ name, value: setting.value, source: formatSource(setting.source) });
      }
      const mirror = registry === undefined ? undefined : config.mirror(registry);
      if (mirror !== undefined)
        settings.push({ name: 'mirror', value: mirror.value, source: formatSource(mirror.source) });
      const verify = config.verify(registry);
      if (verify !== undefined) settings.push(...verifySettings(verify.value, formatSource(verify.source)));
      const policy = process.env.LADING_POLICY;
      if (policy !== undefined && policy !== '') {
        const at = settings.findIndex((s) => s.name === 'policy');
        const entry = { name: 'policy', value: policy, source: 'env LADING_POLICY' };
        if (at >= 0) settings[at] = entry;
        else settings.push(entry);
      }
      registries.push(registry === undefined ? { settings } : { registry, settings });
    }
    const environment = (Object.entries(LadingEnvironment) as [LadingEnvironmentName, string][]).map(
      ([name, description]) => {
        const value = process.env[name];
        const set = value !== undefined;
        return {
          name,
          set,
          ...(set && !secretVariables.has(name) ? { value } : {}),
          description,
        };
      },
    );
    const result: ConfigShowResult = {
      file: { path: location.file ?? null, source: location.source, exists },
      registries,
      environment,
    };
    this.log(terminalSafe(render(result), { keepNewlines: true }));
    return result;
  }
}

function verifySettings(defaults: VerifyDefaults, source: string): ConfigSettingJSON[] {
  const out: ConfigSettingJSON[] = [];
  for (const [key, flag] of Object.entries(verifyDefaultFlags) as [keyof VerifyDefaults, string][]) {
    const value = defaults[key];
    if (value !== undefined) out.push({ name: flag, value, source });
  }
  return out;
}

function render(result: ConfigShowResult): string {
  const lines: string[] = [];
  const file = result.file;
  lines.push(
    `Config file: ${file.path ?? '(none)'} (${file.source}${file.path === null ? '' : file.exists ? '' : ', not found'})`,
  );
  for (const entry of result.registries) {
    lines.push(
      '',
      entry.registry === undefined ? 'Any other registry, and OCI layouts:' : `Registry ${entry.registry}:`,
    );
    if (entry.settings.length === 0) lines.push('  (defaults only)');
    const width = Math.max(0, ...entry.settings.map((s) => s.name.length));
    const shown = entry.settings.map((s) => (Array.isArray(s.value) ? s.value.join(', ') : String(s.value)));
    const valueWidth = Math.max(0, ...shown.map((v) => v.length));
    entry.settings.forEach((s, i) => {
      lines.push(`  ${s.name.padEnd(width)}  ${(shown[i] ?? '').padEnd(valueWidth)}  ${s.source}`);
    });
  }
  lines.push('', 'Environment:');
  const width = Math.max(...result.environment.map((e) => e.name.length));
  for (const e of result.environment) {
    lines.push(`  ${e.name.padEnd(width)}  ${e.set ? (e.value ?? '(set, not shown)') : '(unset)'}`);
  }
  return lines.join('\n');
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
