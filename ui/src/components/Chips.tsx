interface Props {
  tags: readonly string[];
  label: string;
  onRemove?: (tag: string) => void;
  hrefOf?: (tag: string) => string;
}

/** Tags as chips: removable (a button each), linked (a link each) or plain. */
export function Chips({ tags, label, onRemove, hrefOf }: Props) {
  if (tags.length === 0) return null;
  return (
    <ul class="chips" aria-label={label}>
      {tags.map((tag) => (
        <li key={tag}>
          {onRemove ? (
            <button type="button" class="chip removable" aria-label={`Remove tag ${tag}`} onClick={() => onRemove(tag)}>
              {tag}
              <svg aria-hidden="true" viewBox="0 0 16 16" class="chip-x">
                <path d="M4 4l8 8M12 4l-8 8" />
              </svg>
            </button>
          ) : hrefOf ? (
            <a class="chip" href={hrefOf(tag)}>
              {tag}
            </a>
          ) : (
            <span class="chip">{tag}</span>
          )}
        </li>
      ))}
    </ul>
  );
}
