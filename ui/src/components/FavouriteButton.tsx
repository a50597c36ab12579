import { useEffect, useState } from "preact/hooks";
import { messageOf, setFavourite, type Image } from "../api/client";
import { isPerson, useAccount } from "../account";
import { forgetLibraries, rememberImage } from "../store";

/** A heart: marks the image as one of the signed-in person's favourites (`is:fav`). Hidden for everyone else. */
export function FavouriteButton({ image, onChange }: { image: Image; onChange?: (image: Image) => void }) {
  const account = useAccount();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Its own state: a grid tile keeps its image object, so the heart must not wait for a new one.
  const [on, setOn] = useState(image.favourite);
  useEffect(() => setOn(image.favourite), [image.favourite]);
  if (!isPerson(account)) return null;

  async function toggle(event: Event): Promise<void> {
    event.preventDefault();
    event.stopPropagation();
    setBusy(true);
    setError(null);
    try {
      await setFavourite(image.id, !on);
      setOn(!on);
      const next = { ...image, favourite: !on };
      rememberImage(next);
      forgetLibraries(); // the Favourites view changed
      onChange?.(next);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <button
      type="button"
      class={`favourite${on ? " on" : ""}`}
      aria-pressed={on}
      aria-label={on ? `Remove ${image.filename} from favourites` : `Add ${image.filename} to favourites`}
      title={error ?? (on ? "Remove from favourites" : "Add to favourites")}
      disabled={busy}
      onClick={(event) => void toggle(event)}
    >
      <svg viewBox="0 0 24 24" aria-hidden="true">
        <path d="M12 20.5s-7.5-4.6-7.5-10.1A4.4 4.4 0 0 1 12 7.6a4.4 4.4 0 0 1 7.5 2.8c0 5.5-7.5 10.1-7.5 10.1z" />
      </svg>
    </button>
  );
}
