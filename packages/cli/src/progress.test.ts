import { describe, expect, it } from 'vitest';

import { Progress, progressMode, type ProgressOutput } from './progress.js';

/** A fake terminal (or pipe) that records what is written. */
class FakeStream implements ProgressOutput {
  chunks: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns = 80,
  ) {}
  write(text: string): boolean {
    this.chunks.push(text);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

/** What a terminal would show: applies `\r`, cursor-up (`ESC[nA`) and erase-below (`ESC[0J`) to a screen of lines. */
function screen(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  for (let i = 0; i < output.length; i++) {
    const ch = output[i] ?? '';
    if (ch === '\u001b') {
      // After ESC: `[<n>A` or `[<n>J`.
      const m = /^\[(\d+)([AJ])/.exec(output.slice(i + 1));
      if (!m) throw new Error(`unexpected escape at ${i}`);
      if (m[2] === 'A') row = Math.max(0, row - Number(m[1]));
      else {
        lines[row] = (lines[row] ?? '').slice(0, col);
        lines.length = row + 1;
      }
      i += m[0].length;
    } else if (ch === '\r') col = 0;
    else if (ch === '\n') {
      row++;
      col = 0;
      lines[row] ??= '';
    } else {
      const line = lines[row] ?? '';
      lines[row] = line.slice(0, col) + ch + line.slice(col + 1);
      col++;
    }
  }
  return lines;
}

describe('progressMode', () => {
  it('draws bars only on a terminal, lines otherwise, nothing with --json', () => {
    expect(progressMode({ write: () => true, isTTY: true }, { json: false, noProgress: false })).toBe('bars');
    expect(progressMode({ write: () => true, isTTY: true }, { json: false, noProgress: true })).toBe('lines');
    expect(progressMode({ write: () => true }, { json: false, noProgress: false })).toBe('lines');
    expect(progressMode({ write: () => true, isTTY: true }, { json: true, noProgress: false })).toBe('silent');
  });
});

describe('Progress on a terminal', () => {
  it('draws a bar per item and a total line, then step lines above, and clears the bars at the end', () => {
    const out = new FakeStream(true, 72);
    let now = 0;
    const progress = new Progress({ output: out, mode: 'bars', now: () => now });
    progress.begin('a', 'Uploading config', { total: 4096 });
    progress.begin('b', 'Uploading tool', { total: 1024 * 1024 });
    now += 200;
    progress.advance('a', 1024);
    let shown = screen(out.text);
    expect(shown).toEqual([
      expect.stringMatching(/^Uploading config +\[#####\.{15}\] {2}25% +1\.0 KiB \/ 4\.0 KiB +$/) as unknown,
      expect.stringMatching(/^Uploading tool +\[\.{20}\] {3}0% +0 B \/ 1\.0 MiB +$/) as unknown,
      expect.stringMatching(/^Total +\[\.{20}\] {3}0% +1\.0 KiB \/ 1\.0 MiB +$/) as unknown,
      '',
    ]);
    for (const line of shown) expect(line.length).toBeLessThan(72);

    progress.end('a', 'Uploaded config 4.0 KiB');
    shown = screen(out.text);
    expect(shown[0]).toBe('Uploaded config 4.0 KiB');
    expect(shown[1]).toMatch(/^Uploading tool +\[/);
    expect(shown[2]).toMatch(/^Total +\[/);

    progress.finish();
    expect(screen(out.text)).toEqual(['Uploaded config 4.0 KiB', '']);
    expect(out.text.endsWith('\u001b[0J')).toBe(true);
  });

  it('redraws for byte counts at most once per interval', () => {
    const out = new FakeStream(true);
    let now = 1000;
    const progress = new Progress({ output: out, mode: 'bars', now: () => now, intervalMs: 100 });
    progress.begin('a', 'Downloading config', { total: 100 });
    const before = out.chunks.length;
    progress.advance('a', 10);
    progress.advance('a', 20);
    now += 50;
    progress.advance('a', 30);
    expect(out.chunks.length).toBe(before);
    now += 60;
    progress.advance('a', 40);
    expect(out.chunks.length).toBe(before + 1);
    expect(screen(out.text)[0]).toMatch(/40%/);
    progress.finish();
  });

  it('cuts long labels to the terminal width', () => {
    const out = new FakeStream(true, 80);
    const progress = new Progress({ output: out, mode: 'bars', now: () => 0 });
    progress.begin('a', `Uploading ${'very/long/path/'.repeat(10)}file`, { total: 10 });
    const [bar] = screen(out.text);
    expect(bar).toMatch(/^Uploading very\/long\/[a-z/]*… {2}\[\.{20}\] {3}0% {8}0 B \/ 10 B {5}$/);
    expect(bar?.length).toBe(79);
    progress.finish();
  });

  it('shows bytes without a bar when the total is unknown', () => {
    const out = new FakeStream(true);
    const progress = new Progress({ output: out, mode: 'bars', now: () => 0, intervalMs: 0 });
    progress.begin('s', 'Packing stdin', { inTotal: false });
    progress.advance('s', 2048);
    expect(screen(out.text)).toEqual(['Packing stdin  2.0 KiB', '']);
    progress.end('s');
    progress.finish();
    expect(screen(out.text)).toEqual(['']);
  });
});

describe('Progress without a terminal', () => {
  it('prints one plain line per step and no escape sequences', () => {
    const out = new FakeStream(false);
    const progress = new Progress({ output: out, mode: 'lines' });
    progress.begin('a', 'Uploading config', { total: 10 });
    progress.advance('a', 5);
    progress.end('a', 'Uploaded config 10 B');
    progress.note('Skipped notes.txt sha256:0123456789ab (exists)');
    progress.note('Tagged v1');
    progress.finish();
    expect(out.text).toBe('Uploaded config 10 B\nSkipped notes.txt sha256:0123456789ab (exists)\nTagged v1\n');
  });

  it('prints nothing when silent (--json)', () => {
    const out = new FakeStream(true);
    const progress = new Progress({ output: out, mode: 'silent' });
    progress.begin('a', 'Uploading config', { total: 10 });
    progress.advance('a', 5);
    progress.end('a', 'Uploaded config 10 B');
    progress.note('Tagged v1');
    progress.finish();
    expect(out.chunks).toEqual([]);
  });
});
