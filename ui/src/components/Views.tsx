import { libraryHref } from "../router";

export type View = "newest" | "popular" | "rules" | null;

/** The app's places: the library newest first, the most used, and the tag rules. */
export function Views({ current }: { current: View }) {
  const here = (view: View) => (view === current ? "page" : undefined);
  return (
    <nav class="views" aria-label="Views">
      <a href="/" aria-current={here("newest")}>
        Newest
      </a>
      <a href={libraryHref([], "sort:popular")} aria-current={here("popular")}>
        Most used
      </a>
      <a href="/tag-rules" aria-current={here("rules")}>
        Tag rules
      </a>
    </nav>
  );
}
