// Renders the generated command reference of docs/cli.md from packages/cli/oclif.manifest.json (every command's
// usage, description, arguments, flags and examples, as `lading <command> --help` shows them) and the exit codes
// of dist/exit-codes.d.ts. Used by write-cli-docs.js (`pnpm docs:cli`) and by the drift test
// (test/src/cli-docs.test.ts), so both render exactly the same text.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package folder (packages/cli). */
export const cliRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
/** docs/cli.md of the repository. */
export const cliDocFile = path.join(cliRoot, '..', '..', 'docs', 'cli.md');
/** The markers around the generated part of docs/cli.md; everything outside them is written by hand. */
export const beginMarker = '<!-- BEGIN GENERATED COMMAND REFERENCE: edit the commands, then run `pnpm docs:cli` -->';
export const endMarker = '<!-- END GENERATED COMMAND REFERENCE -->';

/** Flags every registry command shares (their help groups), listed once in "Common flags". */
const commonGroups = new Set(['REGISTRY', 'OUTPUT']);

const bin = 'lading';
const expand = (text) => text.replaceAll('<%= config.bin %>', bin).replaceAll('<%= command.id %>', '');
/** Prose for Markdown: `<dir>` would be read as an HTML tag. */
const prose = (text) => expand(String(text)).replaceAll('<', '&lt;').replaceAll('>', '&gt;');
const cell = (text) => prose(text).replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The words of a command id (`config:show` → `config show`). */
const words = (id) => id.split(':').join(' ');

/** The usage line: the command's own, else built from its arguments. */
function usage(command) {
  if (command.usage !== undefined) {
    const lines = Array.isArray(command.usage) ? command.usage : [command.usage];
    return lines.map((line) => `${bin} ${expand(line)}`);
  }
  const args = Object.values(command.args ?? {});
  const parts = args.map((arg, i) => {
    const name = arg.name.toUpperCase() + (command.strict === false && i === args.length - 1 ? '...' : '');
    return arg.required ? name : `[${name}]`;
  });
  const hasFlags = Object.values(command.flags ?? {}).some((f) => !f.hidden);
  return [[bin, words(command.id), ...parts, ...(hasFlags ? ['[FLAGS]'] : [])].join(' ')];
}

function flagName(name, flag) {
  const long = flag.type === 'boolean' && flag.allowNo ? `--[no-]${name}` : `--${name}`;
  const value = flag.type === 'option' ? ` <${flag.options ? flag.options.join('|') : 'value'}>` : '';
  return `${flag.char ? `-${flag.char}, ` : ''}${long}${value}${flag.multiple ? ' (repeatable)' : ''}`;
}

function flagRows(entries) {
  const rows = ['| flag | description |', '|---|---|'];
  for (const [name, flag] of entries) {
    let text = flag.summary ?? flag.description ?? '';
    if (flag.default !== undefined && flag.default !== false && typeof flag.default !== 'function') {
      text += ` Default: ${Array.isArray(flag.default) ? flag.default.join(', ') : flag.default}.`;
    }
    rows.push(`| \`${flagName(name, flag)}\` | ${cell(text)} |`);
  }
  return rows;
}

const isCommon = (name, flag) => name === 'json' || commonGroups.has(flag.helpGroup ?? '');

/** The exit codes and their doc comments, from the compiled declaration of `ExitCodes`. */
export async function readExitCodes(root = cliRoot) {
  const text = await readFile(path.join(root, 'dist', 'exit-codes.d.ts'), 'utf8');
  const body = text.slice(text.indexOf('ExitCodes: {'), text.indexOf('};', text.indexOf('ExitCodes: {')));
  const codes = [];
  for (const match of body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*readonly (\w+): (\d+);/g)) {
    const comment = match[1]
      .split('\n')
      .map((line) => line.replace(/^\s*\*\s?/, '').trim())
      .filter((line) => line !== '')
      .join(' ');
    codes.push({ name: match[2], code: Number(match[3]), meaning: comment });
  }
  if (codes.length === 0) throw new Error(`exit codes: none found in ${path.join(root, 'dist', 'exit-codes.d.ts')}`);
  return codes;
}

/**
 * The generated reference (Markdown, markers included) for `manifest` (the parsed oclif.manifest.json) and
 * `exitCodes` ({@link readExitCodes}).
 */
export function renderReference(manifest, exitCodes) {
  const commands = Object.values(manifest.commands)
    .filter((c) => !c.hidden)
    .sort((a, b) => words(a.id).localeCompare(words(b.id)));
  const out = [beginMarker, '', '## Command reference', ''];
  out.push(
    'Generated from the commands by `pnpm docs:cli`; `lading <command> --help` prints the same. A test fails when this',
    'part is stale.',
    '',
  );
  out.push(commands.map((c) => `[\`${words(c.id)}\`](#lading-${words(c.id).replaceAll(' ', '-')})`).join(' · '), '');
  const withCommon = commands.find((c) => Object.entries(c.flags ?? {}).some(([n, f]) => !f.hidden && isCommon(n, f)));
  if (withCommon !== undefined) {
    out.push(
      '### Flags of every registry command',
      '',
      'The commands that list "the registry flags" all take these.',
      '',
    );
    const common = Object.entries(withCommon.flags).filter(([n, f]) => !f.hidden && isCommon(n, f));
    out.push(...flagRows(common), '');
  }
  for (const command of commands) {
    out.push(`### lading ${words(command.id)}`, '');
    out.push('```', ...usage(command), '```', '');
    const summary = command.summary ?? '';
    if (summary !== '') out.push(prose(summary), '');
    if (command.description !== undefined && command.description !== summary) out.push(prose(command.description), '');
    if (command.aliases?.length)
      out.push(`Aliases: ${command.aliases.map((a) => `\`${bin} ${words(a)}\``).join(', ')}.`, '');
    const args = Object.values(command.args ?? {});
    if (args.length > 0) {
      out.push('| argument | description |', '|---|---|');
      for (const arg of args) {
        const options = arg.options ? ` One of: ${arg.options.join(', ')}.` : '';
        out.push(
          `| \`${arg.name.toUpperCase()}\`${arg.required ? '' : ' (optional)'} | ${cell((arg.description ?? '') + options)} |`,
        );
      }
      out.push('');
    }
    const flags = Object.entries(command.flags ?? {}).filter(([, f]) => !f.hidden);
    const own = flags.filter(([n, f]) => !isCommon(n, f));
    const hasCommon = flags.some(([n, f]) => isCommon(n, f) && n !== 'json');
    if (own.length > 0) out.push(...flagRows(own), '');
    const json = flags.some(([n]) => n === 'json');
    const notes = [];
    if (hasCommon) notes.push('the [registry flags](#flags-of-every-registry-command)');
    else if (json) notes.push('`--json`');
    notes.push('`-h`/`--help`');
    out.push(`Also: ${notes.join(', ')}.`, '');
    if (command.examples?.length) {
      out.push('Examples:', '', '```sh');
      for (const example of command.examples) {
        if (typeof example === 'string') out.push(expand(example));
        else out.push(`# ${expand(example.description)}`, expand(example.command));
      }
      out.push('```', '');
    }
  }
  out.push('### Exit codes', '', '| code | name | meaning |', '|---|---|---|');
  for (const e of exitCodes) out.push(`| ${e.code} | \`${e.name}\` | ${cell(e.meaning)} |`);
  out.push('', endMarker);
  return `${out.join('\n')}\n`;
}

/**
 * `document` (docs/cli.md) with its generated part replaced by `reference`; appended at the end when the markers
 * are missing. Throws when only one marker is there.
 */
export function updateDocument(document, reference) {
  const begin = document.indexOf(beginMarker);
  const end = document.indexOf(endMarker);
  if (begin < 0 && end < 0) return `${document.replace(/\n*$/, '\n\n')}${reference}`;
  if (begin < 0 || end < begin) throw new Error(`${cliDocFile}: one of the generated-reference markers is missing`);
  return `${document.slice(0, begin)}${reference}${document.slice(end + endMarker.length).replace(/^\n/, '')}`;
}

/** docs/cli.md as `pnpm docs:cli` would write it now, from the built manifest. */
export async function expectedDocument(root = cliRoot, docFile = cliDocFile) {
  const manifest = JSON.parse(await readFile(path.join(root, 'oclif.manifest.json'), 'utf8'));
  const reference = renderReference(manifest, await readExitCodes(root));
  return updateDocument(await readFile(docFile, 'utf8'), reference);
}
