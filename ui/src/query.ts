// The search query language's terms, split the way the API splits them (src/reactbin/domain/query.py): spaces
// outside double quotes separate terms. The API stays the judge of what a term means; this only draws chips.

/** The terms of a query, in order (quotes kept, so a chip shows "why not both" as typed). */
export function queryTerms(q: string): string[] {
  const terms: string[] = [];
  let current = "";
  let quoted = false;
  for (const char of q) {
    if (char === '"') quoted = !quoted;
    if (/\s/u.test(char) && !quoted) {
      if (current) terms.push(current);
      current = "";
    } else {
      current += char;
    }
  }
  if (current) terms.push(current);
  return terms;
}

/** The query without its `index`th term. */
export function withoutTerm(q: string, index: number): string {
  return queryTerms(q)
    .filter((_, i) => i !== index)
    .join(" ");
}

/** Short help for the search box: every operator with an example. */
export const SYNTAX_HELP: readonly (readonly [string, string])[] = [
  ["cat", "tag, caption text or filename"],
  ['"why not both"', "caption or filename contains the phrase"],
  ["tag:cat", "exactly this tag (and its aliases, and tags that imply it)"],
  ["cat*", "any tag starting with cat"],
  ["-blurry", "leave out what the term matches"],
  ["cat|dog", "either one"],
  ["type:animated", "still, animated or video"],
  ["sort:popular", "new, old, popular (most used) or random"],
];
