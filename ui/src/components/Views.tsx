import { isPerson, useAccount } from "../account";
import { libraryHref } from "../router";

export type View = "newest" | "popular" | "favourites" | "rules" | null;

/** The app's places: the library newest first, the most used, a signed-in person's favourites, the tag rules. */
export function Views({ current }: { current: View }) {
  const account = useAccount();
  const here = (view: View) => (view === current ? "page" : undefined);
  return (
    <nav class="views" aria-label="Views">
      <a href="/" aria-current={here("newest")}>
        Newest
      </a>
      <a href={libraryHref([], "sort:popular")} aria-current={here("popular")}>
        Most used
      </a>
      {isPerson(account) && (
        <a href={libraryHref([], "is:fav")} aria-current={here("favourites")}>
          Favourites
        </a>
      )}
      <a href="/tag-rules" aria-current={here("rules")}>
        Tag rules
      </a>
    </nav>
  );
}
