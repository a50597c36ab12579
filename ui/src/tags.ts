// Tag rules, mirroring the API (src/reactbin/domain/tags.py): trim, lowercase, whitespace runs -> "-",
// then 1-64 letters, digits and - _ : . The API stays the judge; this only lets the UI show the result early.
export const MAX_TAG_LENGTH = 64;
export const MAX_TAGS = 50;
const VALID = /^[\p{L}\p{N}_\-:.]+$/u;

export function normaliseTag(raw: string): string {
  return raw.trim().toLowerCase().replace(/\s+/gu, "-");
}

/** Why a normalised tag would be refused, or null when it is fine. */
export function tagProblem(tag: string): string | null {
  if (!tag) return "Tags cannot be empty";
  if ([...tag].length > MAX_TAG_LENGTH) return `Tags are at most ${MAX_TAG_LENGTH} characters`;
  if (!VALID.test(tag)) return `“${tag}” may only contain letters, digits and - _ : .`;
  return null;
}

/** Tags from a comma-separated field, normalised, blanks and repeats dropped. */
export function parseTagList(field: string): string[] {
  const tags = field.split(",").map(normaliseTag).filter(Boolean);
  return [...new Set(tags)];
}
