import type { Ref } from "preact";
import { useEffect, useState } from "preact/hooks";
import { suggestTags, type TagSuggestion } from "../api/client";
import { normaliseTag, tagProblem } from "../tags";
import { SuggestionList } from "./Suggestions";

const SHOWN = 8;

/** Tags starting with `prefix` (most used first), or nothing while `prefix` is null. */
export function useTagSuggestions(prefix: string | null, exclude: readonly string[] = []): TagSuggestion[] {
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

/**
 * A text field that turns what is typed into normalised tags, with autocomplete from /tags. The list opens while
 * typing (or on ArrowDown) and closes on Escape, blur and once a tag is added: it never lingers over what is below.
 */
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
    setOpen(false);
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
        onBlur={() => {
          setOpen(false);
          setActive(-1);
        }}
      />
      <SuggestionList
        id={listId}
        label={`${label}: suggestions`}
        items={expanded ? suggestions : []}
        active={active}
        keyOf={(item) => item.name}
        onPick={(item) => commit(item.name)}
      >
        {(item) => (
          <>
            <span class="name">{item.name}</span>
            <span class="count">
              {item.count}
              <span class="visually-hidden"> images</span>
            </span>
          </>
        )}
      </SuggestionList>
      {problem && (
        <p id={problemId} class="field-error" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}

interface FieldProps {
  id: string;
  label: string;
  placeholder: string;
  value: string;
  onValue: (value: string) => void;
}

/** One tag in a form (the tag rules): a labelled field with the same autocomplete; picking a suggestion fills it. */
export function TagField({ id, label, placeholder, value, onValue }: FieldProps) {
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const typed = normaliseTag(value);
  const suggestions = useTagSuggestions(open && typed ? typed : null).filter((item) => item.name !== typed);
  const expanded = open && suggestions.length > 0;
  const activeItem = expanded && active >= 0 ? suggestions[active] : undefined;
  const listId = `${id}-suggestions`;

  function pick(name: string): void {
    onValue(name);
    setOpen(false);
    setActive(-1);
  }

  return (
    <div class="field tag-field">
      <label for={id} class="label">
        {label}
      </label>
      <div class="tag-input">
        <input
          id={id}
          type="text"
          role="combobox"
          autoComplete="off"
          autoCapitalize="none"
          spellcheck={false}
          required
          maxLength={64}
          placeholder={placeholder}
          value={value}
          aria-autocomplete="list"
          aria-expanded={expanded}
          aria-controls={listId}
          aria-activedescendant={activeItem ? `${listId}-${active}` : undefined}
          onInput={(event) => {
            onValue(event.currentTarget.value);
            setOpen(true);
            setActive(-1);
          }}
          onKeyDown={(event) => {
            if (event.key === "ArrowDown") {
              event.preventDefault();
              setOpen(true);
              setActive((index) => Math.min(index + 1, suggestions.length - 1));
            } else if (event.key === "ArrowUp") {
              event.preventDefault();
              setActive((index) => Math.max(index - 1, -1));
            } else if (event.key === "Enter" && activeItem) {
              event.preventDefault(); // picks the suggestion; the next Enter submits the form
              pick(activeItem.name);
            } else if (event.key === "Escape" && expanded) {
              event.stopPropagation();
              setOpen(false);
              setActive(-1);
            }
          }}
          onBlur={() => {
            setOpen(false);
            setActive(-1);
          }}
        />
        <SuggestionList
          id={listId}
          label={`${label}: suggestions`}
          items={expanded ? suggestions : []}
          active={active}
          keyOf={(item) => item.name}
          onPick={(item) => pick(item.name)}
        >
          {(item) => (
            <>
              <span class="name">{item.name}</span>
              <span class="count">
                {item.count}
                <span class="visually-hidden"> images</span>
              </span>
            </>
          )}
        </SuggestionList>
      </div>
    </div>
  );
}
