// `lading completion bash|zsh|fish` as the built binary: the bash script loads in bash and its function completes
// command names, per-command flags, fixed flag values and file names, as bash would call it (COMP_WORDS/COMP_CWORD);
// the fish script completes the same through fish's own `complete -C`; the zsh script parses (`zsh -n`) and completes
// at an interactive zsh driven through zsh/zpty. Every command of the manifest is offered, so new commands need no
// change to the scripts.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { beforeAll, describe, expect, it } from 'vitest';

import { expectOK, ladingIn } from './cli-runner.js';
import { makeToolHome, repoRoot, testbed } from './testbed/index.js';

const exec = promisify(execFile);

let env: NodeJS.ProcessEnv;
let work: string;
const scripts: Record<string, string> = {};

const lading = ladingIn(() => ({ cwd: work, env }));

/** The completions bash's function offers for `words` (the last one being completed), sorted. */
async function bashComplete(words: readonly string[]): Promise<string[]> {
  const quoted = words.map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(' ');
  const program = `source ${scripts.bash ?? ''}
COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMPREPLY=()
_lading_complete
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { stdout } = await exec('bash', ['--norc', '--noprofile', '-c', program], { cwd: work, env });
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

/** What fish completes for the command line `line` (candidates without their descriptions), sorted. */
async function fishComplete(line: string): Promise<string[]> {
  const { stdout } = await exec('fish', ['--no-config', '-c', `source ${scripts.fish ?? ''}; complete -C '${line}'`], {
    cwd: work,
    env,
  });
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t')[0] ?? '')
    .sort();
}

/**
 * Drives an interactive zsh on a pseudo-terminal (zsh/zpty) with the script loaded by compinit: types each line, then
 * a key bound to the completion widget, with `compadd` wrapped to print the matches it is given. Each step waits for
 * its own marker, so nothing depends on timing. Returns the matches offered for each line, sorted.
 */
// The completion widget runs with no input pending (compsys skips work while typeahead is queued, which made the
// results depend on how the pty split the writes): each line is typed with ^T last, and the next write waits for the
// widget's CAPTURED mark; the widget then clears the line itself.
const zshDriver = `zmodload zsh/zpty
zpty z zsh -f -i
step() { zpty -w z "$1; print STEP\\"\\"$2"; zpty -r z out "*STEP$2*"; }
step "PROMPT=''; RPROMPT=''; unsetopt zle_bracketed_paste; autoload -U compinit; compinit -u -D; source $1" 1
step 'compadd () { local -a hits; builtin compadd -O hits "$@"; (( $#hits )) && print -r -- "HITS:\${(j: :)hits}:END"; builtin compadd "$@" }' 2
step 'zle -C capture complete-word _main_complete; capture-then-clear () { zle capture; print -r -- "CAPT""URED"; BUFFER=""; CURSOR=0 }; zle -N capture-then-clear; bindkey "^T" capture-then-clear' 3
shift
n=10
for line in "$@"; do
  zpty -w -n z "$line"$'\\C-t'
  zpty -r z out "*CAPTURED*"
  print -r -- "LINE $n $out"
  n=$((n+1))
done
zpty -d z
`;

async function zshComplete(lines: readonly string[]): Promise<string[][]> {
  const driver = path.join(work, 'zsh-driver.zsh');
  await writeFile(driver, zshDriver);
  const { stdout } = await exec('zsh', ['-f', driver, scripts.zsh ?? '', ...lines], { cwd: work, env });
  const blocks = stdout.split(/LINE \d+ /).slice(1);
  return blocks.map((block) => {
    const hits = new Set<string>();
    for (const match of block.matchAll(/HITS:(.*?):END/g)) for (const hit of (match[1] ?? '').split(' ')) hits.add(hit);
    return [...hits].sort();
  });
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'cli-completion-'));
  await writeFile(path.join(work, 'notes.txt'), 'n\n');
  await writeFile(path.join(work, 'nothing-else.md'), 'n\n');
  for (const shell of ['bash', 'zsh', 'fish']) {
    const result = await lading(['completion', shell]);
    expectOK(result, `completion ${shell}`);
    expect(result.stderr).toBe('');
    const file = path.join(work, `lading.${shell}`);
    await writeFile(file, result.stdout);
    scripts[shell] = file;
  }
});

describe('lading completion bash', () => {
  it('completes command names, topics and subcommands', async () => {
    expect(await bashComplete(['lading', 'pu'])).toEqual(['pull', 'push']);
    expect(await bashComplete(['lading', 'c'])).toEqual(['cat', 'completion', 'config', 'copy', 'cp']);
    expect(await bashComplete(['lading', 'config', ''])).toEqual(['path', 'show']);
    expect(await bashComplete(['lading', 'key', 'g'])).toEqual(['generate']);
  });

  it("completes each command's own flags, fixed values and file names", async () => {
    expect(await bashComplete(['lading', 'push', '--si'])).toEqual(['--sign', '--signing-config']);
    // pull has --overwrite; push does not.
    expect(await bashComplete(['lading', 'pull', '--overw'])).toEqual(['--overwrite']);
    expect(await bashComplete(['lading', 'push', '--overw'])).toEqual([]);
    expect(await bashComplete(['lading', 'config', 'show', '--no-pl'])).toEqual(['--no-plain-http']);
    expect(await bashComplete(['lading', 'completion', '--h'])).toEqual(['--help']);
    expect(await bashComplete(['lading', 'key', 'generate', '--type', 'ssh-e'])).toEqual(['ssh-ed25519']);
    // A value flag completes file names; so does an argument.
    expect(await bashComplete(['lading', 'pull', '--verify-key', 'not'])).toEqual(['notes.txt', 'nothing-else.md']);
    expect(await bashComplete(['lading', 'push', 'oci:./l:v1', 'notes'])).toEqual(['notes.txt']);
  });

  it('offers every command of the manifest, aliases included', async () => {
    const manifest = JSON.parse(await readFile(path.join(repoRoot, 'packages/cli/oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, { id: string; aliases: string[]; hidden?: boolean }>;
    };
    const tops = new Set(
      Object.values(manifest.commands)
        .filter((c) => c.hidden !== true)
        .flatMap((c) => [c.id, ...c.aliases].map((id) => id.split(':')[0] ?? '')),
    );
    expect(tops).toContain('list');
    expect(await bashComplete(['lading', ''])).toEqual([...tops].sort());
  });
});

describe('lading completion fish and zsh', () => {
  it('fish completes commands, flags and subcommands', async () => {
    expect(await fishComplete('lading pu')).toEqual(['pull', 'push']);
    expect(await fishComplete('lading push --si')).toEqual(['--sign', '--signing-config']);
    expect(await fishComplete('lading config ')).toEqual(['path', 'show']);
    expect(await fishComplete('lading key generate --type ssh-e')).toEqual(['ssh-ed25519']);
    expect(await fishComplete('lading pull --verify-key not')).toEqual(['notes.txt', 'nothing-else.md']);
  });

  it('the zsh script parses (zsh -n) and registers its completion function with compinit', async () => {
    await exec('zsh', ['-n', scripts.zsh ?? ''], { env });
    const program = `autoload -U compinit; compinit -u -D; source ${scripts.zsh ?? ''}; print -r -- \${_comps[lading]}`;
    const { stdout } = await exec('zsh', ['-f', '-c', program], { cwd: work, env });
    expect(stdout).toBe('_lading\n');
    const text = await readFile(scripts.zsh ?? '', 'utf8');
    expect(text.startsWith('#compdef lading\n')).toBe(true);
    expect(text).toMatch(/^ {4}'push'\)\n {6}_arguments -s .*'--sign\[/m);
  });

  it('zsh completes commands, flags, subcommands and files at an interactive prompt', async () => {
    expect(
      await zshComplete(['lading pu', 'lading push --si', 'lading config ', 'lading pull --verify-key not']),
    ).toEqual([
      ['pull', 'push'],
      ['--sign', '--signing-config'],
      ['path', 'show'],
      ['notes.txt', 'nothing-else.md'],
    ]);
  });

  it('refuses an unknown shell with exit 2', async () => {
    const result = await lading(['completion', 'tcsh']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/tcsh/);
  });
});
