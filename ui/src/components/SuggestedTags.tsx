import { useEffect, useState } from "preact/hooks";
import { messageOf, replaceTags, suggestedTags, type Image, type SuggestedTag } from "../api/client";
import { withWriteToken } from "../auth";
import { rememberImage } from "../store";

const WHY: Record<SuggestedTag["reason"], string> = {
  similar: "used on similar images",
  caption: "a word of the caption",
};

/** Up to 10 existing tags the image probably wants, as one-click chips; each click adds it and saves. */
export function SuggestedTags({ image: given, onChange }: { image: Image; onChange?: (image: Image) => void }) {
  // The upload rows pass no onChange: the chips then keep the image as it is after each added tag.
  const [image, setImage] = useState(given);
  useEffect(() => setImage(given), [given]);
  const [items, setItems] = useState<SuggestedTag[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    suggestedTags(image.id, controller.signal)
      .then(setItems)
      .catch(() => setItems([])); // suggestions are a nicety: without them the page works as before
    return () => controller.abort();
  }, [image.id, image.tags.join(","), image.text]);

  const shown = items.filter((item) => !image.tags.includes(item.tag));
  if (shown.length === 0) return null;

  function add(tag: string): void {
    setBusy(true);
    setError(null);
    withWriteToken((token) => replaceTags(image.id, [...image.tags, tag], token))
      .then((updated) => {
        rememberImage(updated);
        setImage(updated);
        onChange?.(updated);
      })
      .catch((err: unknown) => setError(`Tag not added: ${messageOf(err)}`))
      .finally(() => setBusy(false));
  }

  return (
    <div class="suggested-tags">
      <p class="label muted">Suggested tags</p>
      <ul class="chips" aria-label="Suggested tags">
        {shown.map((item) => (
          <li key={item.tag}>
            <button
              type="button"
              class="chip suggested"
              disabled={busy}
              title={WHY[item.reason]}
              aria-label={`Add tag ${item.tag} (${WHY[item.reason]})`}
              onClick={() => add(item.tag)}
            >
              + {item.tag}
            </button>
          </li>
        ))}
      </ul>
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
