/**
 * Splits a byte stream into `\n`-terminated lines with a hard cap on the
 * bytes held: anyone who can reach the frontend socket can send a line with
 * no end, so an overlong line is skipped up to its newline instead of being
 * collected, and only its first bytes are kept for the log.
 */

export interface OverlongLine {
  /** The first bytes of the line (at most `keepBytes`), decoded for a log message. */
  start: string;
  /** The line's full length in bytes, without its newline. */
  bytes: number;
}

export interface LineSplitterOptions {
  maxLineBytes: number;
  /** How much of an overlong line to keep for the log. */
  keepBytes: number;
  onLine(line: string): void;
  onOverlong(line: OverlongLine): void;
}

export interface LineSplitter {
  push(chunk: Buffer): void;
  /** The stream ended: a last line without a newline still counts. */
  end(): void;
}

const NEWLINE = 0x0a;

export function createLineSplitter(options: LineSplitterOptions): LineSplitter {
  const { maxLineBytes, keepBytes, onLine, onOverlong } = options;
  // Copies, not views: a view would keep a whole 64 KiB socket chunk alive.
  let parts: Buffer[] = [];
  let held = 0;
  let overlong: { start: Buffer; bytes: number } | undefined;

  function append(piece: Buffer): void {
    if (overlong) {
      overlong.bytes += piece.length;
    } else if (held + piece.length > maxLineBytes) {
      const start = Buffer.concat([...parts, piece.subarray(0, keepBytes)]).subarray(0, keepBytes);
      overlong = { start: Buffer.from(start), bytes: held + piece.length };
      parts = [];
      held = 0;
    } else if (piece.length > 0) {
      parts.push(Buffer.from(piece));
      held += piece.length;
    }
  }

  function finishLine(): void {
    if (overlong) {
      onOverlong({ start: overlong.start.toString('utf8'), bytes: overlong.bytes });
      overlong = undefined;
    } else {
      onLine(Buffer.concat(parts, held).toString('utf8'));
    }
    parts = [];
    held = 0;
  }

  return {
    push(chunk) {
      let from = 0;
      for (;;) {
        const newline = chunk.indexOf(NEWLINE, from);
        append(chunk.subarray(from, newline === -1 ? chunk.length : newline));
        if (newline === -1) return;
        finishLine();
        from = newline + 1;
      }
    },
    end() {
      if (overlong || held > 0) finishLine();
    },
  };
}
