/** The first line of a (possibly multi-line) message, for one-line summaries in logs and the Web UI. */
export function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** A step's limit as people read it: `2 s`, `60 min`, `1500 ms`. */
export function formatLimit(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
