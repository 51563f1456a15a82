/**
 * Progress on standard error: live bars on a terminal, one plain line per step otherwise, nothing at all with
 * `--json`. Hand-written (about a hundred lines) rather than a dependency: all it needs is a few ANSI sequences.
 */
import { formatBytes } from './format.js';

/** Where progress goes: `process.stderr`, or a fake in tests. */
export interface ProgressOutput {
  write(text: string): unknown;
  /** True on a terminal: bars are drawn only then. */
  isTTY?: boolean;
  /** Terminal width; lines are cut to fit. Default 80. */
  columns?: number;
}

/**
 * - `bars`: live bars, redrawn in place, plus the step lines above them (a terminal);
 * - `lines`: only the step lines (a pipe or a file, or `--no-progress`);
 * - `silent`: nothing (`--json`).
 */
export type ProgressMode = 'bars' | 'lines' | 'silent';

/** Options of {@link Progress}. */
export interface ProgressOptions {
  output: ProgressOutput;
  mode: ProgressMode;
  /** Least time between two redraws caused by byte counts, in ms. Default 100 (at most ~10 redraws a second). */
  intervalMs?: number;
  /** Clock, for tests. Default `performance.now`. */
  now?: () => number;
}

/** Options of {@link Progress.begin}. */
export interface ItemOptions {
  /** Bytes expected, when known. */
  total?: number;
  /** Count this item in the total line. Default true. */
  inTotal?: boolean;
}

interface Item {
  label: string;
  done: number;
  total: number | undefined;
  inTotal: boolean;
  active: boolean;
}

const ESC = '\u001b[';
const barWidth = 20;

/**
 * The mode for a command: `silent` with `--json`; `bars` when `output` is a terminal and progress was not turned
 * off; `lines` otherwise.
 */
export function progressMode(output: ProgressOutput, options: { json: boolean; noProgress: boolean }): ProgressMode {
  if (options.json) return 'silent';
  return output.isTTY === true && !options.noProgress ? 'bars' : 'lines';
}

/**
 * Renders the progress of concurrent transfers. Items (one per layer or blob) are begun, advanced with their byte
 * count and ended with a step line; `note` prints a step line on its own. In `bars` mode the live region (one bar
 * per active item and a total line) is redrawn below the step lines and removed by {@link Progress.finish}.
 */
export class Progress {
  readonly mode: ProgressMode;
  private readonly output: ProgressOutput;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly items = new Map<string, Item>();
  /** Lines of the live region now on screen. */
  private drawn = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;

  constructor(options: ProgressOptions) {
    this.output = options.output;
    this.mode = options.mode;
    this.intervalMs = options.intervalMs ?? 100;
    this.now = options.now ?? (() => performance.now());
  }

  /** Starts an item, e.g. one layer's upload. */
  begin(id: string, label: string, options: ItemOptions = {}): void {
    this.items.set(id, {
      label,
      done: 0,
      total: options.total,
      inTotal: options.inTotal ?? true,
      active: true,
    });
    this.draw(true);
  }

  /** Sets how many bytes of an item are done (an absolute count, not an increment). Redraws at most every interval. */
  advance(id: string, done: number): void {
    const item = this.items.get(id);
    if (!item) return;
    item.done = done;
    this.draw(false);
  }

  /** Ends an item and prints its step line (`Uploaded config 1.2 KiB`), when given. */
  end(id: string, line?: string): void {
    const item = this.items.get(id);
    if (item) {
      item.active = false;
      if (item.total !== undefined) item.done = item.total;
    }
    if (line === undefined) this.draw(true);
    else this.note(line);
  }

  /** Prints a step line: above the bars on a terminal, as a plain line otherwise, not at all when silent. */
  note(line: string): void {
    if (this.mode === 'silent') return;
    if (this.mode === 'lines') {
      this.output.write(`${line}\n`);
      return;
    }
    // Step lines are not cut: only the live region must never wrap, and it is below them.
    this.output.write(`${this.clearRegion()}${line}\n`);
    this.drawn = 0;
    this.draw(true);
  }

  /** Removes the live region (bars mode); call once when done, success or not. */
  finish(): void {
    if (this.mode !== 'bars') return;
    const clear = this.clearRegion();
    if (clear !== '') this.output.write(clear);
    this.drawn = 0;
    this.items.clear();
  }

  private clearRegion(): string {
    // Up to the first line of the region, column 1, then erase to the end of the screen.
    return this.drawn > 0 ? `${ESC}${this.drawn}A\r${ESC}0J` : '';
  }

  private draw(force: boolean): void {
    if (this.mode !== 'bars') return;
    const now = this.now();
    if (!force && now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    const lines = [...this.items.values()].filter((i) => i.active).map((i) => this.barLine(i.label, i.done, i.total));
    const counted = [...this.items.values()].filter((i) => i.inTotal);
    if (counted.length > 0) {
      const done = counted.reduce((n, i) => n + i.done, 0);
      const known = counted.every((i) => i.total !== undefined);
      const total = known ? counted.reduce((n, i) => n + (i.total ?? 0), 0) : undefined;
      lines.push(this.barLine('Total', done, total));
    }
    const clear = this.clearRegion();
    if (lines.length === 0 && clear === '') return;
    this.output.write(`${clear}${lines.map((l) => `${this.fit(l)}\n`).join('')}`);
    this.drawn = lines.length;
  }

  private barLine(label: string, done: number, total: number | undefined): string {
    if (total === undefined || total <= 0) return `${label}  ${formatBytes(done)}`;
    const ratio = Math.min(1, done / total);
    const filled = Math.round(ratio * barWidth);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`;
    const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
    // Fixed-width numbers keep the bars of all lines in one column.
    const numbers = `${bar} ${percent}  ${formatBytes(done).padStart(9)} / ${formatBytes(total).padEnd(9)}`;
    // The label gives way first when the terminal is narrow.
    const room = this.width() - 1 - numbers.length - 2;
    const shown = room <= 1 ? '' : label.length > room ? `${label.slice(0, room - 1)}…` : label.padEnd(room);
    return shown === '' ? numbers : `${shown}  ${numbers}`;
  }

  private width(): number {
    const columns = this.output.columns;
    return columns !== undefined && columns > 0 ? columns : 80;
  }

  /** Cuts a line to the terminal's width minus one, so that it never wraps (wrapping would break the redraw). */
  private fit(line: string): string {
    const max = this.width() - 1;
    return line.length > max ? `${line.slice(0, Math.max(0, max - 1))}…` : line;
  }
}
