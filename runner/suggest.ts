/** "Did you mean …?": the candidates closest to what the user typed, for error messages. */

/** Levenshtein distance (insertions, deletions, substitutions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Edit distance from `term` to the closest substring of `text` (how far `text` is from containing it). */
function substringDistance(term: string, text: string): number {
  const t = term.toLowerCase(), s = text.toLowerCase();
  // Sellers' algorithm: the first row is all zeros, so a match may start anywhere in `s`.
  let prev = new Array<number>(s.length + 1).fill(0);
  for (let i = 1; i <= t.length; i++) {
    const cur = [i];
    for (let j = 1; j <= s.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (t[i - 1] === s[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return Math.min(...prev);
}

/**
 * Up to `limit` candidates within a few edits of `term` (about a third of its length, at least 1), closest
 * first. `substring`: compare with the closest part of each candidate (for "id contains" filters).
 */
export function closeMatches(
  term: string,
  candidates: Iterable<string>,
  opts: { substring?: boolean; limit?: number } = {},
): string[] {
  const budget = Math.max(1, Math.floor(term.length / 3));
  const scored: { c: string; d: number }[] = [];
  for (const c of new Set(candidates)) {
    const d = opts.substring ? substringDistance(term, c) : editDistance(term, c);
    if (d <= budget) scored.push({ c, d });
  }
  scored.sort((x, y) => x.d - y.d || (x.c < y.c ? -1 : x.c > y.c ? 1 : 0));
  return scored.slice(0, opts.limit ?? 5).map((x) => x.c);
}
