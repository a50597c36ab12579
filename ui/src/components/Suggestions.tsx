import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";

/**
 * A list that has just appeared under the pointer must not take the click meant for what was there before it
 * (a person cannot see it and react in less than this). Measured from when the list was painted.
 */
export const SETTLE_MS = 250;

interface Props<T> {
  id: string;
  label: string;
  items: readonly T[];
  active: number;
  keyOf: (item: T) => string;
  onPick: (item: T) => void;
  children: (item: T) => ComponentChildren;
}

/**
 * The listbox of a combobox (tag input, search box, tag rule fields): options never take focus from the field, and
 * an option counts as clicked only when the pointer went down and up on it after the list had settled.
 */
export function SuggestionList<T>({ id, label, items, active, keyOf, onPick, children }: Props<T>) {
  const shownAt = useRef(0);
  const pressed = useRef<{ index: number; at: number } | null>(null);
  const visible = items.length > 0;
  useLayoutEffect(() => {
    if (visible) shownAt.current = performance.now();
  }, [visible]);
  return (
    <ul id={id} role="listbox" class="suggestions" aria-label={label} hidden={!visible}>
      {items.map((item, index) => (
        <li
          key={keyOf(item)}
          id={`${id}-${index}`}
          role="option"
          aria-selected={index === active}
          class={index === active ? "active" : undefined}
          onMouseDown={(event) => {
            event.preventDefault(); // the field keeps focus (and its list)
            pressed.current = { index, at: performance.now() };
          }}
          onClick={() => {
            const press = pressed.current;
            pressed.current = null;
            if (press?.index === index && press.at - shownAt.current >= SETTLE_MS) onPick(item);
          }}
        >
          {children(item)}
        </li>
      ))}
    </ul>
  );
}
