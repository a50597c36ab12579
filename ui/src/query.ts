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

/** The query without the terms at `indexes`. */
export function withoutTerms(q: string, indexes: readonly number[]): string {
  return queryTerms(q)
    .filter((_, i) => !indexes.includes(i))
    .join(" ");
}

/** A plain word: no operator, quote, alternative or wildcard; words typed one after another read as one phrase. */
function plainWord(term: string): boolean {
  return !/^-|["|*]|^(tag|type|sort):/iu.test(term);
}

export interface QueryChip {
  text: string;
  /** The terms it stands for (removing the chip removes them). */
  indexes: number[];
}

/** The chips that show a query: runs of plain words as one chip (`why not both`), every other term its own. */
export function queryChips(q: string): QueryChip[] {
  const chips: QueryChip[] = [];
  let joinable = false;
  queryTerms(q).forEach((term, index) => {
    const last = chips.at(-1);
    const plain = plainWord(term);
    if (last && joinable && plain) {
      last.text += ` ${term}`;
      last.indexes.push(index);
    } else {
      chips.push({ text: term, indexes: [index] });
    }
    joinable = plain;
  });
  return chips;
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
