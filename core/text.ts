/** The first line of a (possibly multi-line) message, for one-line summaries in logs and the Web UI. */
export function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
