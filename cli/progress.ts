/**
 * Progress for a person waiting at a terminal: a one-line bar on stderr for
 * long CLI operations, and a block of lines redrawn in place for the demo.
 * Off a terminal the bar writes nothing and the block writes plain lines, so
 * piped output and `--json` stay exactly what they were.
 *
 * Three ANSI sequences do it (carriage return, erase line, cursor up); a
 * library (cli-progress, log-update) would bring more code than it saves.
 */
import type { ProgressReport } from '../client/job-operations.js';

/** Where progress goes: a terminal has `isTTY` and `columns`. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const ERASE_LINE = '\r\x1b[2K';
const cursorUp = (lines: number) => `\x1b[${lines}A`;

/** Cuts `text` to `width` characters, so a line never wraps (a wrapped line breaks redrawing in place). */
export function fitLine(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

/** `[#####-----]`, `size` cells filled in proportion to `done` of `total`. */
export function bar(done: number, total: number, size: number): string {
  const fraction = total > 0 ? Math.min(Math.max(done / total, 0), 1) : 1;
  const filled = Math.round(fraction * size);
  return `[${'#'.repeat(filled)}${'-'.repeat(size - filled)}]`;
}

/** `deleting jobs [#####-----] 120/500 24%`, fitted to `width` (the bar shrinks first). */
export function renderProgressLine(label: string, done: number, total: number, width = 80): string {
  const percent = total > 0 ? Math.floor((Math.min(done, total) / total) * 100) : 100;
  const count = `${done}/${total} ${percent}%`;
  const room = width - label.length - count.length - 4; // spaces around the bar and its brackets
  const size = Math.min(30, room);
  if (size < 5) return fitLine(`${label} ${count}`, width);
  return `${label} ${bar(done, total, size)} ${count}`;
}

export type { ProgressReport };

export interface ProgressBar extends ProgressReport {
  /** `by` more items done (default 1). */
  tick(by?: number): void;
  /** Writes `text` (plus a newline) to `to` (default the `out` option), the bar kept below it on a terminal. */
  print(text: string, to?: ProgressStream): void;
  /** Erases the bar. */
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Where the bar goes (default stderr); nothing is drawn unless it is a terminal. */
  stream?: ProgressStream;
  /** Where `print` writes (default stdout). */
  out?: ProgressStream;
  /** Redraw at most this often (default 80 ms): a bar must not cost more than the work. */
  minIntervalMs?: number;
  now?: () => number;
}

/**
 * A progress bar on `stream` when it is a terminal; otherwise `tick` and
 * `stop` do nothing and `print` just prints.
 */
export function progressBar(options: ProgressOptions): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const out = options.out ?? process.stdout;
  const now = options.now ?? Date.now;
  const minInterval = options.minIntervalMs ?? 80;
  const live = stream.isTTY === true;
  let label = options.label;
  let total = options.total;
  let done = 0;
  let shown = false;
  let drawnAt = -Infinity;
  const draw = () => {
    stream.write(`${ERASE_LINE}${renderProgressLine(label, done, total, (stream.columns || 80) - 1)}`);
    shown = true;
    drawnAt = now();
  };
  const erase = () => {
    if (shown) stream.write(ERASE_LINE);
    shown = false;
  };
  return {
    tick(by = 1) {
      done += by;
      if (live && (now() - drawnAt >= minInterval || done >= total)) draw();
    },
    phase(nextLabel, nextTotal) {
      label = nextLabel;
      total = nextTotal;
      done = 0;
      if (live) draw();
    },
    print(text, to = out) {
      if (live) erase();
      to.write(`${text}\n`);
      if (live) draw();
    },
    stop() {
      if (live) erase();
    },
  };
}

export interface LiveBlock {
  /** Shows `lines`: redrawn in place on a terminal, otherwise the lines that changed since the last call. */
  update(lines: readonly string[]): void;
}

/**
 * A block of lines kept up to date: on a terminal it is redrawn in place
 * (each line cut to the terminal's width); elsewhere each line that
 * changed is printed once, so a log shows every change and nothing else.
 */
export function liveBlock(stream: ProgressStream = process.stdout): LiveBlock {
  let previous: readonly string[] = [];
  return {
    update(lines) {
      if (stream.isTTY !== true) {
        const changed = lines.filter((line, i) => line !== previous[i]);
        if (changed.length > 0) stream.write(`${changed.join('\n')}\n`);
        previous = [...lines];
        return;
      }
      const width = (stream.columns || 80) - 1;
      const rows = [...lines.map((line) => fitLine(line, width))];
      // Lines the block no longer has are blanked, so a shorter frame leaves no trace of a longer one.
      while (rows.length < previous.length) rows.push('');
      const up = previous.length > 0 ? cursorUp(previous.length) : '';
      stream.write(`${up}${rows.map((row) => `${ERASE_LINE}${row}\n`).join('')}`);
      previous = rows;
    },
  };
}
