/**
 * Help and the conventions around it: readable usage lines, `help <command>`, and "did you mean" for a mistyped
 * command or flag. oclif loads {@link LadingHelp} (package.json `oclif.helpClass`) for `--help`, `-h` (package.json
 * `oclif.additionalHelpFlags`) and `lading help`, and calls {@link commandNotFound} (package.json `oclif.hooks`)
 * when no command matches.
 */
import type { Command } from '@oclif/core/command';
import { CommandHelp, Help } from '@oclif/core/help';
import type { Hook } from '@oclif/core/hooks';

/**
 * Renders one command's help. Differs from oclif's in two places:
 * - the usage line is `lading <command> ARGS <required flags> [FLAGS]`: oclif's docopts rendering breaks on flags
 *   that share exclusions (`[--fulcio-url <value> | ]`), and a line listing thirty flags is read by nobody; the
 *   FLAGS sections below say everything;
 * - only the last argument of a non-strict command is shown as variadic (`PATH...`), not every one.
 */
export class LadingCommandHelp extends CommandHelp {
  protected override defaultUsage(): string {
    return usageLine(this.command);
  }

  protected override args(args: Command.Arg.Any[]): Array<[string, string | undefined]> | undefined {
    const rows = super.args(args);
    if (rows === undefined || this.command.strict !== false) return rows;
    // oclif marks every argument of a non-strict command `NAME...`; only the last one takes the rest.
    return rows.map(([name, description], i) => [
      i === rows.length - 1 || args[i]?.multiple === true ? name : name.replace('...', ''),
      description,
    ]);
  }
}

/** oclif's help with {@link LadingCommandHelp} for commands. */
export class LadingHelp extends Help {
  protected override CommandHelpClass = LadingCommandHelp;
}

/**
 * The usage line of a command (without `$ lading`): its id, its arguments (`[NAME]` when optional, the last one of a
 * non-strict command variadic), its required flags, then `[FLAGS]` when it has any other visible flag.
 */
export function usageLine(command: Command.Loadable): string {
  const parts = ['<%= command.id %>'];
  // Names from the keys: a manifest entry carries `name`, a command class's declarations do not.
  const args = Object.entries(command.args).filter(([, arg]) => arg.hidden !== true);
  args.forEach(([key, arg], i) => {
    const variadic = arg.multiple === true || (command.strict === false && i === args.length - 1) ? '...' : '';
    const name = `${key.toUpperCase()}${variadic}`;
    parts.push(arg.required === true ? name : `[${name}]`);
  });
  const flags = Object.entries(command.flags).filter(([, flag]) => flag.hidden !== true);
  for (const [name, flag] of flags.filter(([, f]) => f.required === true)) {
    const helpValue: unknown = (flag as { helpValue?: unknown }).helpValue;
    const value = typeof helpValue === 'string' ? helpValue : '<value>';
    parts.push(flag.type === 'option' ? `--${name} ${value}` : `--${name}`);
  }
  if (flags.some(([, f]) => f.required !== true)) parts.push('[FLAGS]');
  return parts.join(' ');
}

/**
 * The candidates closest to `typed` by edit distance (a transposition counts as one edit), best first; only those
 * within 2 edits, or a third of the typed length for longer words. Empty when nothing is close.
 */
export function closest(typed: string, candidates: Iterable<string>): string[] {
  const limit = Math.max(2, Math.floor(typed.length / 3));
  const scored: Array<[string, number]> = [];
  for (const candidate of new Set(candidates)) {
    const distance = editDistance(typed.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit) scored.push([candidate, distance]);
  }
  return scored.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).map(([candidate]) => candidate);
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The message for a command line naming no command: `command psuh not found: did you mean push?`. `id` is oclif's
 * command id (words joined by `:`, possibly swallowing arguments: `psuh:ref`); `commands` are the known ids and
 * aliases (`key:generate`, `list`). Words are shown space-separated, as they are typed.
 */
export function commandNotFoundMessage(id: string, commands: Iterable<string>): string {
  const typed = id.split(':');
  const known = [...commands].map((c) => c.split(':'));
  let best: { command: string; typed: string; distance: number } | undefined;
  for (const words of known) {
    const prefix = typed.slice(0, words.length).join(' ');
    const command = words.join(' ');
    const [match] = closest(prefix, [command]);
    if (match === undefined) continue;
    const distance = editDistance(prefix, command);
    if (best === undefined || distance < best.distance) best = { command, typed: prefix, distance };
  }
  if (best !== undefined) return `command ${best.typed} not found: did you mean ${best.command}?`;
  return `command ${typed[0] ?? id} not found`;
}

/**
 * oclif's `command_not_found` hook: prints `Error: command … not found: did you mean …?` and a hint on standard
 * error and sets exit code 2 (usage), as for any other usage error.
 */
export const commandNotFound: Hook<'command_not_found'> = function commandNotFound(options) {
  const names = options.config.commands.flatMap((c) => [c.id, ...c.aliases]);
  const message = commandNotFoundMessage(options.id, names);
  process.stderr.write(`Error: ${message}\nHint: run \`${options.config.bin} help\` for the list of commands\n`);
  process.exitCode = 2;
  return Promise.resolve();
};

/**
 * The message of an argument-parser error as lading shows it: oclif's note that multi-value flags must come after
 * the arguments is dropped (lading's multi-value flags take one value each, so it is false), and so is its
 * "See more help with --help" line (the hint says it); an unknown flag gets "did you mean --x?" when a flag of the
 * command is close. `flags` are the command's flag names (without dashes) and one-letter aliases.
 */
export function parseErrorMessage(
  message: string,
  unknown: readonly string[] = [],
  flags: Iterable<string> = [],
): string {
  let text = message
    .replace(/\n\nNote: [^\n]* allows? multiple values\.[^\n]*(?:\nAlternatively, [^\n]*)?/, '')
    .replace(/\nSee more help with --help$/, '');
  const names = [...flags];
  const suggestions = unknown
    .map((flag) => {
      const [match] = closest(
        flag.replace(/^-+/, '').split('=')[0] ?? '',
        names.filter((n) => n.length > 1),
      );
      return match === undefined ? undefined : `${flag.split('=')[0] ?? flag} → --${match}`;
    })
    .filter((s): s is string => s !== undefined);
  if (suggestions.length === 1 && unknown.length === 1) {
    text += ` (did you mean --${suggestions[0]?.split(' → --')[1] ?? ''}?)`;
  } else if (suggestions.length > 0) {
    text += ` (did you mean: ${suggestions.join(', ')}?)`;
  }
  return text;
}
