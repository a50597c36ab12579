import { useEffect, useState } from "preact/hooks";
import { listImplications, type Implication } from "../api/client";
import { libraryHref } from "../router";

let rules: Promise<Implication[]> | null = null;

/** Rules changed (the tag rules screen): read them again next time. */
export function forgetImplications(): void {
  rules = null;
}

/** The tags an image's tags imply (`cat` → `animal`, transitively): searching those finds it too. */
export function ImpliedTags({ tags }: { tags: readonly string[] }) {
  const [implications, setImplications] = useState<Implication[]>([]);
  useEffect(() => {
    rules ??= listImplications().catch(() => {
      rules = null; // try again next time; the tags themselves are shown anyway
      return [];
    });
    void rules.then(setImplications);
  }, []);
  const implied = closure(tags, implications).filter((tag) => !tags.includes(tag));
  if (implied.length === 0) return null;
  return (
    <p class="implied-tags muted">
      Also found as:{" "}
      {implied.map((tag, index) => (
        <span key={tag}>
          {index > 0 && ", "}
          <a href={libraryHref([], `tag:${tag}`)}>{tag}</a>
        </span>
      ))}
    </p>
  );
}

function closure(tags: readonly string[], implications: readonly Implication[]): string[] {
  const found = new Set(tags);
  const queue = [...tags];
  for (let tag = queue.pop(); tag !== undefined; tag = queue.pop()) {
    for (const rule of implications) {
      if (rule.tag === tag && !found.has(rule.implies)) {
        found.add(rule.implies);
        queue.push(rule.implies);
      }
    }
  }
  return [...found].sort();
}
