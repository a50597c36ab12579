import type { RefObject } from "preact";
import { libraryHref, navigate } from "../router";
import { Chips } from "./Chips";
import { TagInput } from "./TagInput";

interface Props {
  tags: readonly string[];
  inputRef: RefObject<HTMLInputElement | null>;
}

/** Tag search: chips ANDed together, kept in the page URL (`?tag=a&tag=b`). */
export function SearchBar({ tags, inputRef }: Props) {
  const show = (next: readonly string[]) => navigate(libraryHref(next));
  const remove = (tag: string) => {
    show(tags.filter((item) => item !== tag));
    inputRef.current?.focus();
  };
  return (
    <div class="search" role="search" onClick={(event) => event.target === event.currentTarget && inputRef.current?.focus()}>
      <svg class="search-icon" viewBox="0 0 20 20" aria-hidden="true">
        <circle cx="8.5" cy="8.5" r="5.5" />
        <path d="M13 13l4.5 4.5" />
      </svg>
      <Chips tags={tags} label="Searching for" onRemove={remove} />
      <TagInput
        id="tag-search"
        label="Search by tag"
        placeholder={tags.length ? "Add a tag" : "Search tags…"}
        exclude={tags}
        inputRef={inputRef}
        onAdd={(added) => show([...tags, ...added])}
        onRemoveLast={() => {
          const last = tags.at(-1);
          if (last !== undefined) remove(last);
        }}
      />
      <kbd class="search-hint" aria-hidden="true">
        /
      </kbd>
    </div>
  );
}
