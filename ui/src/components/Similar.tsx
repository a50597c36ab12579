import { useEffect, useState } from "preact/hooks";
import {
  deleteImage,
  mergeImage,
  messageOf,
  similarImages,
  type Image,
  type SimilarItem,
  type UploadedImage,
} from "../api/client";
import { withWriteToken } from "../auth";
import { describeImage } from "../format";
import { detailHref } from "../router";
import { forgetImage, forgetLibraries, rememberImage } from "../store";
import { thumbnailSrc } from "../urls";

function SimilarTile({ item }: { item: SimilarItem }) {
  const { image } = item;
  return (
    <li class="similar-tile">
      <a href={detailHref(image.id)}>
        <img src={thumbnailSrc(image)} width={image.width} height={image.height} alt={describeImage(image)} loading="lazy" />
      </a>
    </li>
  );
}

/** The detail page's "Similar": the same picture elsewhere in the library, one click away. */
export function Similar({ image }: { image: Image }) {
  const [items, setItems] = useState<SimilarItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    setItems(null);
    setError(null);
    similarImages(image.id, controller.signal)
      .then(setItems)
      .catch((err: unknown) => {
        if (!controller.signal.aborted) setError(messageOf(err));
      });
    return () => controller.abort();
  }, [image.id, image.text, image.text_status]);

  if (error) {
    return (
      <section class="similar" aria-labelledby="similar-heading">
        <h2 id="similar-heading" class="label">
          Similar
        </h2>
        <p class="muted">Could not look for similar images: {error}</p>
      </section>
    );
  }
  if (!items || items.length === 0) return null;
  const duplicates = items.filter((item) => item.relation === "duplicate");
  const templates = items.filter((item) => item.relation === "template");
  return (
    <section class="similar" aria-labelledby="similar-heading">
      <h2 id="similar-heading" class="label">
        Similar
      </h2>
      {duplicates.length > 0 && (
        <>
          <h3 class="similar-kind">Same picture</h3>
          <ul class="similar-list" aria-label="The same picture">
            {duplicates.map((item) => (
              <SimilarTile key={item.image.id} item={item} />
            ))}
          </ul>
        </>
      )}
      {templates.length > 0 && (
        <>
          <h3 class="similar-kind">Same template, other caption</h3>
          <ul class="similar-list" aria-label="The same template with another caption">
            {templates.map((item) => (
              <SimilarTile key={item.image.id} item={item} />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

type Choice = "open" | "kept" | "merged" | "deleted";

/**
 * On an upload row: "looks like one you have" when the new image shows the same picture as one in the library,
 * with keep both, merge (the new one into the one you have: tags and uses move over) or delete the new one.
 */
export function LooksLikeOne({ image }: { image: UploadedImage }) {
  const match = (image.similar ?? []).find((item) => item.relation === "duplicate");
  const [choice, setChoice] = useState<Choice>("open");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!match) return null;
  const existing = match.image;

  function act(run: (token: string | null) => Promise<unknown>, done: Choice): void {
    setBusy(true);
    setError(null);
    withWriteToken(run)
      .then(() => {
        forgetImage(image.id);
        forgetLibraries();
        setChoice(done);
      })
      .catch((err: unknown) => setError(messageOf(err)))
      .finally(() => setBusy(false));
  }

  if (choice === "kept") return <p class="queue-status ok">Kept both.</p>;
  if (choice === "merged") {
    return (
      <p class="queue-status ok" role="status">
        Merged into <a href={detailHref(existing.id)}>the one you have</a>.
      </p>
    );
  }
  if (choice === "deleted") return <p class="queue-status ok" role="status">Deleted the new copy.</p>;
  return (
    <div class="looks-like" role="group" aria-label="Looks like one you have">
      <a class="looks-like-thumb" href={detailHref(existing.id)}>
        <img src={thumbnailSrc(existing)} width={existing.width} height={existing.height} alt={describeImage(existing)} />
      </a>
      <div>
        <p class="queue-status duplicate">Looks like one you have.</p>
        <div class="looks-like-actions">
          <button type="button" class="button" disabled={busy} onClick={() => setChoice("kept")}>
            Keep both
          </button>
          <button
            type="button"
            class="button primary"
            disabled={busy}
            onClick={() =>
              act(
                (token) =>
                  mergeImage(image.id, existing.id, token).then((kept) => {
                    rememberImage(kept);
                  }),
                "merged",
              )
            }
          >
            Merge
          </button>
          <button
            type="button"
            class="button danger"
            disabled={busy}
            onClick={() => act((token) => deleteImage(image.id, token), "deleted")}
          >
            Delete new
          </button>
        </div>
        {error && (
          <p class="field-error" role="alert">
            {error}
          </p>
        )}
      </div>
    </div>
  );
}
