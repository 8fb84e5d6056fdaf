/** The nearest valid spelling of a mistyped name, for "did you mean …?" in config and usage errors. */

/** Edits between `a` and `b`, counting a swap of two neighbours as one (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The candidate closest to `word` (ignoring case), if it is close enough to be a
 * typo of it: at most a third of the longer name's letters differ (at least one,
 * at most three), or one name is the other with a prefix or suffix added
 * (`port` / `prot`, `limit` / `limits`, `temporl` / `temporal`).
 */
export function nearestSpelling(word: string, candidates: Iterable<string>): string | undefined {
  const typed = word.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  if (best === undefined) return undefined;
  const longer = Math.max(typed.length, best.candidate.length);
  const allowed = Math.min(3, Math.max(1, Math.floor(longer / 3)));
  const contained = typed.length >= 3 && best.candidate.toLowerCase().includes(typed);
  return best.distance <= allowed || contained ? best.candidate : undefined;
}
