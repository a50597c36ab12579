import type { RefObject } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { suggestTags, type TagSuggestion } from "../api/client";
import { SYNTAX_HELP, queryChips, queryTerms, withoutTerms } from "../query";
import { libraryHref, navigate } from "../router";
import { SuggestionList } from "./Suggestions";

interface Props {
  tags: readonly string[];
  q: string;
  inputRef: RefObject<HTMLInputElement | null>;
}

/**
 * The search box: the query language (`cat "why not both" -blurry sort:popular`), kept in the page URL (`?q=`).
 * The current search shows once, as removable chips (words typed together stay one chip); the field holds only
 * what is typed next, which Enter adds to the search. Backspace in the empty field takes the last term back.
 * `?tag=` filters from older links show as chips too.
 */
export function SearchBar({ tags, q, inputRef }: Props) {
  const [text, setText] = useState("");
  const [help, setHelp] = useState(false);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const helpRef = useRef<HTMLDivElement>(null);
  const toggleRef = useRef<HTMLButtonElement>(null);
  // A new search empties the field, unless Backspace is taking the last term back into it.
  const comingBack = useRef<string | null>(null);
  useEffect(() => {
    setText(comingBack.current ?? "");
    comingBack.current = null;
  }, [q]);
  const terms = queryTerms(q);
  const chips = queryChips(q);
  const word = open ? lastWord(text) : null;
  const suggestions = useSuggestions(word);
  const expanded = word !== null && suggestions.length > 0;
  const activeItem = expanded && active >= 0 ? suggestions[active] : undefined;

  // The help is a popup: Escape and a click anywhere else close it. Listening starts in the same commit that shows
  // it (a layout effect), so an Escape pressed the moment it appears is not lost.
  useLayoutEffect(() => {
    if (!help) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape") return;
      setHelp(false);
      toggleRef.current?.focus();
    };
    const onPointer = (event: PointerEvent) => {
      const target = event.target as Node | null;
      if (!helpRef.current?.contains(target) && !toggleRef.current?.contains(target)) setHelp(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", onPointer);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("pointerdown", onPointer);
    };
  }, [help]);

  const search = (query: string) => {
    setOpen(false);
    setActive(-1);
    setText("");
    navigate(libraryHref(tags, query));
  };
  const withTyped = (typed: string) => [...terms, ...queryTerms(typed)].join(" ");
  const pick = (item: TagSuggestion) => search(withTyped(`${text.slice(0, text.length - (word ?? "").length)}${item.tag}`));
  const submit = (event: Event) => {
    event.preventDefault();
    // A picked suggestion replaces the word being typed with the tag it stands for.
    if (activeItem) pick(activeItem);
    else search(withTyped(text));
  };
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setOpen(true);
      setActive((index) => Math.min(index + 1, suggestions.length - 1));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((index) => Math.max(index - 1, -1));
    } else if (event.key === "Escape" && expanded) {
      event.stopPropagation();
      setOpen(false);
      setActive(-1);
    } else if (event.key === "Backspace" && text === "" && terms.length > 0) {
      // The last term comes back into the field to be edited.
      event.preventDefault();
      comingBack.current = terms.at(-1) ?? "";
      navigate(libraryHref(tags, withoutTerms(q, [terms.length - 1])));
    }
  };
  const removeChip = (indexes: readonly number[]) => {
    navigate(libraryHref(tags, withoutTerms(q, indexes)));
    inputRef.current?.focus();
  };
  const removeTag = (tag: string) => navigate(libraryHref(tags.filter((item) => item !== tag), q));

  return (
    <form class="search" role="search" onSubmit={submit}>
      <svg class="search-icon" viewBox="0 0 20 20" aria-hidden="true">
        <circle cx="8.5" cy="8.5" r="5.5" />
        <path d="M13 13l4.5 4.5" />
      </svg>
      <div class="search-field">
        {(chips.length > 0 || tags.length > 0) && (
          <ul class="chips" aria-label="Searching for">
            {chips.map((chip) => (
              <li key={`q${chip.indexes.join(",")}${chip.text}`}>
                <button
                  type="button"
                  class={`chip removable${chip.text.startsWith("-") ? " negated" : ""}`}
                  aria-label={`Remove ${chip.text}`}
                  onClick={() => removeChip(chip.indexes)}
                >
                  {chip.text}
                  <ChipX />
                </button>
              </li>
            ))}
            {tags.map((tag) => (
              <li key={`t${tag}`}>
                <button type="button" class="chip removable" aria-label={`Remove tag ${tag}`} onClick={() => removeTag(tag)}>
                  tag:{tag}
                  <ChipX />
                </button>
              </li>
            ))}
          </ul>
        )}
        <label class="visually-hidden" for="search-query">
          Search
        </label>
        <input
          id="search-query"
          ref={inputRef}
          class="search-input"
          type="text"
          name="q"
          role="combobox"
          autocomplete="off"
          autoCapitalize="none"
          spellcheck={false}
          enterKeyHint="search"
          maxLength={256}
          placeholder={terms.length || tags.length ? "Add words…" : "Search tags and captions…"}
          value={text}
          aria-autocomplete="list"
          aria-expanded={expanded}
          aria-controls="search-suggestions"
          aria-activedescendant={activeItem ? `search-suggestions-${active}` : undefined}
          onInput={(event) => {
            setText(event.currentTarget.value);
            setOpen(true);
            setActive(-1);
          }}
          onKeyDown={onKeyDown}
          onBlur={() => {
            setOpen(false);
            setActive(-1);
          }}
        />
        <SuggestionList
          id="search-suggestions"
          label="Tag suggestions"
          items={expanded ? suggestions : []}
          active={active}
          keyOf={(item) => item.name}
          onPick={pick}
        >
          {(item) => (
            <>
              <span class="name">
                {item.name}
                {item.name !== item.tag && <span class="alias-of"> → {item.tag}</span>}
              </span>
              <span class="count">
                {item.count}
                <span class="visually-hidden"> images</span>
              </span>
            </>
          )}
        </SuggestionList>
      </div>
      <button
        ref={toggleRef}
        type="button"
        class="search-help-toggle"
        aria-expanded={help}
        aria-controls="search-help"
        aria-label="Search syntax"
        onClick={() => setHelp(!help)}
      >
        <span aria-hidden="true">?</span>
      </button>
      <kbd class="search-hint" aria-hidden="true">
        /
      </kbd>
      {help && (
        <div id="search-help" ref={helpRef} class="search-help" role="note">
          <p>Terms are combined: every one must match. Case, accents and spaces inside captions don’t matter.</p>
          <dl>
            {SYNTAX_HELP.map(([example, meaning]) => (
              <div key={example}>
                <dt>
                  <code>{example}</code>
                </dt>
                <dd>{meaning}</dd>
              </div>
            ))}
          </dl>
          <p>
            <a href={libraryHref([], "sort:popular")}>Most used</a> · <a href="/tag-rules">Tag aliases and implications</a>
          </p>
        </div>
      )}
    </form>
  );
}

function ChipX() {
  return (
    <svg aria-hidden="true" viewBox="0 0 16 16" class="chip-x">
      <path d="M4 4l8 8M12 4l-8 8" />
    </svg>
  );
}

/** The bare word being typed at the end of the box (no operator, no quote), or null when there is none. */
function lastWord(text: string): string | null {
  const match = /(?:^|\s)([\p{L}\p{N}_.:-]{2,64})$/u.exec(text);
  const word = match?.[1];
  if (!word || word.startsWith("-") || /^(tag|type|sort):/u.test(word)) return null;
  return word.toLowerCase();
}

/** Tags for the word being typed, typos forgiven (`kat` finds cat) and aliases shown with their tag. */
function useSuggestions(word: string | null): TagSuggestion[] {
  const [items, setItems] = useState<TagSuggestion[]>([]);
  useEffect(() => {
    if (word === null) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      suggestTags({ q: word, limit: 8 }, controller.signal)
        .then(setItems)
        .catch(() => {
          // Suggestions are a convenience: searching works without them.
        });
    }, 120);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [word]);
  return word === null ? [] : items;
}
