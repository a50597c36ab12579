import type { Ref } from "preact";
import { useEffect, useState } from "preact/hooks";
import { suggestTags, type TagSuggestion } from "../api/client";
import { normaliseTag, tagProblem } from "../tags";

const SHOWN = 8;

/** Tags starting with `prefix` (most used first), or nothing while `prefix` is null. */
function useTagSuggestions(prefix: string | null, exclude: readonly string[]): TagSuggestion[] {
  const [items, setItems] = useState<TagSuggestion[]>([]);
  useEffect(() => {
    if (prefix === null) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      const limit = Math.min(100, SHOWN + exclude.length);
      suggestTags({ prefix, limit }, controller.signal)
        .then(setItems)
        .catch(() => {
          // Suggestions are a convenience: typing a tag still works without them.
        });
    }, 120);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [prefix]);
  if (prefix === null) return [];
  return items.filter((item) => item.name.startsWith(prefix) && !exclude.includes(item.name)).slice(0, SHOWN);
}

interface Props {
  id: string;
  label: string;
  placeholder: string;
  exclude: readonly string[];
  onAdd: (tags: string[]) => void;
  onRemoveLast?: () => void;
  inputRef?: Ref<HTMLInputElement>;
  busy?: boolean;
}

/** A text field that turns what is typed into normalised tags, with autocomplete from /tags. */
export function TagInput({ id, label, placeholder, exclude, onAdd, onRemoveLast, inputRef, busy }: Props) {
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const [problem, setProblem] = useState<string | null>(null);
  const suggestions = useTagSuggestions(open ? normaliseTag(text) : null, exclude);
  const listId = `${id}-suggestions`;
  const problemId = `${id}-problem`;
  const expanded = open && suggestions.length > 0;
  const activeItem = expanded && active >= 0 ? suggestions[active] : undefined;

  function commit(raw: string): void {
    const tags = raw.split(",").map(normaliseTag).filter(Boolean);
    if (tags.length === 0) return;
    for (const tag of tags) {
      const reason = tagProblem(tag);
      if (reason) {
        setProblem(reason);
        return;
      }
    }
    setProblem(null);
    setText("");
    setActive(-1);
    const fresh = [...new Set(tags)].filter((tag) => !exclude.includes(tag));
    if (fresh.length > 0) onAdd(fresh);
  }

  function onKeyDown(event: KeyboardEvent): void {
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        setOpen(true);
        setActive((index) => Math.min(index + 1, suggestions.length - 1));
        break;
      case "ArrowUp":
        event.preventDefault();
        setActive((index) => Math.max(index - 1, -1));
        break;
      case "Enter":
        event.preventDefault();
        commit(activeItem ? activeItem.name : text);
        break;
      case ",":
        event.preventDefault();
        commit(text);
        break;
      case "Escape":
        if (expanded) {
          event.stopPropagation();
          setOpen(false);
          setActive(-1);
        } else if (text) {
          setText("");
          setProblem(null);
        }
        break;
      case "Backspace":
        if (text === "" && onRemoveLast) onRemoveLast();
        break;
    }
  }

  return (
    <div class="tag-input">
      <label for={id} class="visually-hidden">
        {label}
      </label>
      <input
        id={id}
        ref={inputRef ?? null}
        type="text"
        role="combobox"
        autoComplete="off"
        autoCapitalize="none"
        spellcheck={false}
        enterKeyHint="enter"
        placeholder={placeholder}
        value={text}
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-activedescendant={activeItem ? `${listId}-${active}` : undefined}
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? problemId : undefined}
        aria-busy={busy ? true : undefined}
        onInput={(event) => {
          setText(event.currentTarget.value);
          setOpen(true);
          setActive(-1);
          setProblem(null);
        }}
        onKeyDown={onKeyDown}
        onFocus={() => setOpen(true)}
        onBlur={() => {
          setOpen(false);
          setActive(-1);
        }}
      />
      <ul id={listId} role="listbox" class="suggestions" aria-label={`${label}: suggestions`} hidden={!expanded}>
        {expanded &&
          suggestions.map((item, index) => (
            <li
              key={item.name}
              id={`${listId}-${index}`}
              role="option"
              aria-selected={index === active}
              class={index === active ? "active" : undefined}
              onMouseDown={(event) => event.preventDefault()}
              onClick={() => commit(item.name)}
            >
              <span class="name">{item.name}</span>
              <span class="count" aria-label={`${item.count} images`}>
                {item.count}
              </span>
            </li>
          ))}
      </ul>
      {problem && (
        <p id={problemId} class="field-error" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}
