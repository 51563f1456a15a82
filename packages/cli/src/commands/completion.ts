import * as Args from '@oclif/core/args';
import { Command } from '@oclif/core/command';
import type { Command as OclifCommand } from '@oclif/core';

/** One command as the completion scripts see it. */
export interface CompletionCommand {
  /** The words that invoke it: `push`, `config show`. */
  words: string[];
  /** One line: what it does. */
  summary: string;
  /** Its flags, hidden ones left out. */
  flags: CompletionFlag[];
}

/** One flag as the completion scripts see it. */
export interface CompletionFlag {
  name: string;
  char?: string;
  summary: string;
  /** The flag takes a value. */
  takesValue: boolean;
  /** The values it accepts, when they are a fixed list; otherwise a value completes as a file name. */
  options?: string[];
  /** `--no-<name>` is accepted too. */
  allowNo: boolean;
}

/** The shells `lading completion` writes scripts for. */
export const completionShells = ['bash', 'zsh', 'fish'] as const;
/** A shell `lading completion` supports. */
export type CompletionShell = (typeof completionShells)[number];

/**
 * The commands and flags of `commands` (oclif's loaded commands: the manifest's, so every registered command is
 * covered without a change here), hidden ones and the `help` pseudo-flags left out, sorted by words.
 */
export function completionModel(commands: readonly OclifCommand.Loadable[]): CompletionCommand[] {
  const out: CompletionCommand[] = [];
  for (const command of commands) {
    if (command.hidden) continue;
    const flags: CompletionFlag[] = [];
    for (const [name, flag] of Object.entries(command.flags)) {
      if (flag.hidden) continue;
      const entry: CompletionFlag = {
        name,
        summary: firstSentence(flag.summary ?? flag.description ?? ''),
        takesValue: flag.type === 'option',
        allowNo: flag.type === 'boolean' && flag.allowNo,
      };
      if (flag.char !== undefined) entry.char = flag.char;
      if (flag.type === 'option' && flag.options !== undefined) entry.options = [...flag.options];
      flags.push(entry);
    }
    flags.push({ name: 'help', char: 'h', summary: 'Show help for this command.', takesValue: false, allowNo: false });
    flags.sort((a, b) => a.name.localeCompare(b.name));
    const summary = firstSentence(command.summary ?? command.description ?? '');
    for (const id of [command.id, ...command.aliases]) {
      out.push({ words: id.split(':'), summary, flags });
    }
  }
  return out.sort((a, b) => a.words.join(' ').localeCompare(b.words.join(' ')));
}

function firstSentence(text: string): string {
  const line = text.split('\n')[0] ?? '';
  const end = line.search(/\.(\s|$)/);
  return (end >= 0 ? line.slice(0, end) : line).trim();
}

/** `lading completion SHELL`: prints a completion script for bash, zsh or fish. */
export class Completion extends Command {
  static override summary = 'Print a shell completion script (bash, zsh or fish).';
  static override description = `The script completes command names, each command's flags, the fixed values of flags that have them, and file names for arguments and flag values. It is generated from the installed commands, so it covers every command of this version; load it again after an upgrade.`;

  static override examples = [
    { description: 'Bash, for this shell.', command: 'source <(<%= config.bin %> completion bash)' },
    {
      description: 'Bash, for every new shell.',
      command: '<%= config.bin %> completion bash > ~/.local/share/bash-completion/completions/lading',
    },
    { description: 'Zsh (a folder on $fpath).', command: '<%= config.bin %> completion zsh > "${fpath[1]}/_lading"' },
    { description: 'Fish.', command: '<%= config.bin %> completion fish > ~/.config/fish/completions/lading.fish' },
  ];

  static override args = {
    shell: Args.string({
      required: true,
      options: [...completionShells],
      description: 'The shell: bash, zsh or fish.',
    }),
  };

  override async run(): Promise<void> {
    const { args } = await this.parse(Completion);
    const model = completionModel(this.config.commands);
    const bin = this.config.bin;
    const shell = args.shell as CompletionShell;
    const script =
      shell === 'bash' ? bashScript(bin, model) : shell === 'zsh' ? zshScript(bin, model) : fishScript(bin, model);
    process.stdout.write(script);
  }
}

const identifier = (bin: string): string => bin.replace(/[^A-Za-z0-9_]/g, '_');
/** Single-quoted for POSIX shells and fish (fish also treats `\\` and `'` specially inside single quotes). */
const shQuote = (text: string): string => `'${text.replaceAll("'", `'\\''`)}'`;
const fishQuote = (text: string): string => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** The bash script: a `complete -F` function with each command's flags in a `case`. */
export function bashScript(bin: string, model: readonly CompletionCommand[]): string {
  const fn = `_${identifier(bin)}_complete`;
  const ids = model.map((c) => c.words.join(' '));
  const cases: string[] = [];
  for (const command of model) {
    const words = command.flags.flatMap((f) => [
      `--${f.name}`,
      ...(f.allowNo ? [`--no-${f.name}`] : []),
      ...(f.char === undefined ? [] : [`-${f.char}`]),
    ]);
    const valued = command.flags
      .filter((f) => f.takesValue)
      .flatMap((f) => [`--${f.name}`, ...(f.char === undefined ? [] : [`-${f.char}`])]);
    const options = command.flags
      .filter((f) => f.options !== undefined)
      .map((f) => {
        const names = [`--${f.name}`, ...(f.char === undefined ? [] : [`-${f.char}`])].join('|');
        return `        ${names}) COMPREPLY=($(compgen -W ${shQuote((f.options ?? []).join(' '))} -- "$cur")); return ;;`;
      });
    cases.push(
      `    ${shQuote(command.words.join(' '))})`,
      `      flags=${shQuote(words.join(' '))}`,
      `      valued=${shQuote(` ${valued.join(' ')} `)}`,
      `      case "$prev" in`,
      ...options,
      `      esac`,
      `      ;;`,
    );
  }
  return `# bash completion for ${bin}: generated by \`${bin} completion bash\`; load it with
#   source <(${bin} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev=""
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local ids=(${ids.map(shQuote).join(' ')})
  # The command: the longest run of leading words (before any flag) that names one.
  local i cmd="" path="" n=0
  for (( i = 1; i < COMP_CWORD; i++ )); do
    local w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && break
    path="\${path:+$path }$w"
    local id
    for id in "\${ids[@]}"; do [[ $id == "$path" ]] && { cmd="$path"; n=$i; }; done
  done
  if [[ -z $cmd ]]; then
    # Complete the next word of a command name.
    local prefix="\${path:+$path }" next=" " id rest
    for id in "\${ids[@]}"; do
      [[ $id == "$prefix"* ]] || continue
      rest="\${id#"$prefix"}"
      rest="\${rest%% *}"
      [[ $next == *" $rest "* ]] || next+="$rest "
    done
    COMPREPLY=($(compgen -W "$next" -- "$cur"))
    return
  fi
  local flags="" valued=""
  case "$cmd" in
${cases.join('\n')}
  esac
  if [[ $valued == *" $prev "* ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F ${fn} ${bin}
`;
}

/** zsh's `_arguments` spec of a flag: `--name[summary]:value:_files` with `[`, `]`, `:` and `\\` escaped. */
function zshFlagSpecs(flag: CompletionFlag): string[] {
  const summary = flag.summary.replace(/([\\[\]:])/g, '\\$1');
  const value = flag.takesValue
    ? flag.options === undefined
      ? `:${flag.name}:_files`
      : `:${flag.name}:(${flag.options.join(' ')})`
    : '';
  const specs = [`--${flag.name}${flag.takesValue ? '=' : ''}[${summary}]${value}`];
  if (flag.char !== undefined) specs.push(`-${flag.char}[${summary}]${value}`);
  if (flag.allowNo) specs.push(`--no-${flag.name}[Negate --${flag.name}]`);
  return specs;
}

/**
 * The command words of `model` as the shells complete them: `tops`, each first word with its summary (a topic such
 * as `key` gets `key commands`), and `subs`, each topic's second words with their summaries.
 */
function commandWords(model: readonly CompletionCommand[]): {
  tops: Map<string, string>;
  subs: Map<string, Map<string, string>>;
} {
  const tops = new Map<string, string>();
  const subs = new Map<string, Map<string, string>>();
  for (const command of model) {
    const [first = '', second] = command.words;
    if (second === undefined) tops.set(first, command.summary);
    else {
      if (!tops.has(first)) tops.set(first, `${first} commands`);
      const map = subs.get(first) ?? new Map<string, string>();
      map.set(second, command.summary);
      subs.set(first, map);
    }
  }
  return { tops, subs };
}

/** The zsh script: a `#compdef` function dispatching on the command words to `_arguments`. */
export function zshScript(bin: string, model: readonly CompletionCommand[]): string {
  const fn = `_${identifier(bin)}`;
  const { tops, subs } = commandWords(model);
  const describe = (entries: Map<string, string>): string =>
    [...entries].map(([w, s]) => shQuote(`${w}:${s.replaceAll(':', '\\:')}`)).join(' ');
  const cases = model.map((command) => {
    const specs = command.flags.flatMap(zshFlagSpecs).map(shQuote);
    return `    ${shQuote(command.words.join(' '))})\n      _arguments -s ${specs.join(' ')} '*:file:_files'\n      ;;`;
  });
  const subCases = [...subs].map(
    ([top, map]) =>
      `    ${shQuote(top)})\n      if (( CURRENT == 3 )); then\n        local -a subs; subs=(${describe(map)}); _describe 'command' subs; return\n      fi\n      cmd="$cmd \${words[3]}"; skip=2\n      ;;`,
  );
  return `#compdef ${bin}
# zsh completion for ${bin}: generated by \`${bin} completion zsh\`; save it as _${bin} in a folder on $fpath.
${fn}() {
  local -a tops
  tops=(${describe(tops)})
  if (( CURRENT == 2 )); then
    _describe 'command' tops
    return
  fi
  local cmd="\${words[2]}" skip=1
  case "$cmd" in
${subCases.join('\n')}
  esac
  shift $skip words
  (( CURRENT -= skip ))
  case "$cmd" in
${cases.join('\n')}
    *) _files ;;
  esac
}
if [[ \${zsh_eval_context[-1]} == loadautoload ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${bin}
fi
`;
}

/** The fish script: one `complete` line per command and flag, conditioned on the command words seen. */
export function fishScript(bin: string, model: readonly CompletionCommand[]): string {
  const lines = [`# fish completion for ${bin}: generated by \`${bin} completion fish\``, `complete -c ${bin} -f`];
  const { tops, subs } = commandWords(model);
  const allTops = [...tops.keys()].join(' ');
  for (const [word, summary] of tops) {
    lines.push(
      `complete -c ${bin} -n ${fishQuote(`not __fish_seen_subcommand_from ${allTops}`)} -a ${fishQuote(word)} -d ${fishQuote(summary)}`,
    );
  }
  for (const [top, map] of subs) {
    const words = [...map.keys()].join(' ');
    for (const [word, summary] of map) {
      const when = `__fish_seen_subcommand_from ${top}; and not __fish_seen_subcommand_from ${words}`;
      lines.push(`complete -c ${bin} -n ${fishQuote(when)} -a ${fishQuote(word)} -d ${fishQuote(summary)}`);
    }
  }
  for (const command of model) {
    const [first = '', second] = command.words;
    const when =
      second === undefined
        ? `__fish_seen_subcommand_from ${first}`
        : `__fish_seen_subcommand_from ${first}; and __fish_seen_subcommand_from ${second}`;
    for (const flag of command.flags) {
      const parts = [`complete -c ${bin} -n ${fishQuote(when)} -l ${flag.name}`];
      if (flag.char !== undefined) parts.push(`-s ${flag.char}`);
      if (flag.takesValue)
        parts.push(flag.options === undefined ? '-r -F' : `-r -f -a ${fishQuote(flag.options.join(' '))}`);
      parts.push(`-d ${fishQuote(flag.summary)}`);
      lines.push(parts.join(' '));
      if (flag.allowNo)
        lines.push(
          `complete -c ${bin} -n ${fishQuote(when)} -l no-${flag.name} -d ${fishQuote(`Negate --${flag.name}`)}`,
        );
    }
    // Arguments complete as file names.
    lines.push(`complete -c ${bin} -n ${fishQuote(when)} -F`);
  }
  return `${lines.join('\n')}\n`;
}
