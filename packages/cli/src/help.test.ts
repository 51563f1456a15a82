import { describe, expect, it } from 'vitest';

import { Attest } from './commands/attest.js';
import { Push } from './commands/push.js';
import { Sign } from './commands/sign.js';
import { closest, commandNotFoundMessage, parseErrorMessage, usageLine } from './help.js';

const ids = ['attest', 'cat', 'discover', 'help', 'key:generate', 'ls', 'list', 'pull', 'push', 'sign', 'verify'];

describe('closest', () => {
  it('counts a transposition as one edit and keeps only close candidates, best first', () => {
    expect(closest('psuh', ids)).toEqual(['push']);
    expect(closest('pus', ids)).toEqual(['push', 'ls', 'pull']);
    expect(closest('frobnicate', ids)).toEqual([]);
    expect(closest('verfiy', ids)).toEqual(['verify']);
  });
});

describe('commandNotFoundMessage', () => {
  it('names the typed words and the closest command, spaces between words', () => {
    expect(commandNotFoundMessage('psuh', ids)).toBe('command psuh not found: did you mean push?');
    expect(commandNotFoundMessage('psuh:localhost/a', ids)).toBe('command psuh not found: did you mean push?');
    expect(commandNotFoundMessage('key:generat', ids)).toBe(
      'command key generat not found: did you mean key generate?',
    );
    expect(commandNotFoundMessage('zzz:yyy', ids)).toBe('command zzz not found');
  });
});

describe('parseErrorMessage', () => {
  it("drops oclif's note about multi-value flags and its help line", () => {
    const oclif =
      'Missing 1 required arg:\nreference  What to pull\n\nNote: --file, --verify-key allow multiple values. Because of this you need to provide all arguments before providing those flags.\nAlternatively, you can use "--" to signify the end of the flags and the beginning of arguments.\nSee more help with --help';
    expect(parseErrorMessage(oclif)).toBe('Missing 1 required arg:\nreference  What to pull');
  });

  it('suggests the closest flag for an unknown one', () => {
    expect(parseErrorMessage('Nonexistent flag: --tga\nSee more help with --help', ['--tga'], ['tag', 'sign'])).toBe(
      'Nonexistent flag: --tga (did you mean --tag?)',
    );
    expect(parseErrorMessage('Nonexistent flags: --tga, --sgin', ['--tga', '--sgin'], ['tag', 'sign'])).toBe(
      'Nonexistent flags: --tga, --sgin (did you mean: --tga → --tag, --sgin → --sign?)',
    );
    expect(parseErrorMessage('Nonexistent flag: --zzzzzz', ['--zzzzzz'], ['tag'])).toBe('Nonexistent flag: --zzzzzz');
  });
});

describe('usageLine', () => {
  // The command classes as oclif sees them at help time (manifest entries have the same shape).
  const loadable = (command: typeof Sign | typeof Attest | typeof Push) =>
    ({
      id: command.name,
      args: command.args,
      flags: { ...command.baseFlags, ...command.flags },
      strict: command.strict,
    }) as unknown as Parameters<typeof usageLine>[0];

  it('lists arguments, required flags and [FLAGS], never broken exclusive groups', () => {
    expect(usageLine(loadable(Sign))).toBe('<%= command.id %> REFERENCE [FLAGS]');
    expect(usageLine(loadable(Attest))).toBe('<%= command.id %> REFERENCE --predicate <value> --type <value> [FLAGS]');
    expect(usageLine(loadable(Push))).toBe('<%= command.id %> REFERENCE PATH... [FLAGS]');
  });
});
