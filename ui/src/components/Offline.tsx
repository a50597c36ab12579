import type { Image } from "../api/client";
import { popularImages, recentImages } from "../offline";
import { detailHref } from "../router";
import { thumbnailSrc } from "../urls";

/** Without a network: the reactions used or looked at recently and the most used ones, from this device. */
export function Offline() {
  const recent = recentImages();
  const popular = popularImages().filter((image) => !recent.some((item) => item.id === image.id));
  return (
    <div class="offline-page">
      <h1 class="page-title">You’re offline</h1>
      <p class="muted">
        These reactions are saved on this device. Searching and the rest of the library come back with the connection.
      </p>
      <OfflineSection id="offline-recent" title="Recent" images={recent} />
      <OfflineSection id="offline-popular" title="Most used" images={popular} />
    </div>
  );
}

function OfflineSection({ id, title, images }: { id: string; title: string; images: Image[] }) {
  return (
    <section class="offline-section" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {images.length === 0 ? (
        <p class="muted">Nothing saved yet.</p>
      ) : (
        <ul class="offline-grid">
          {images.map((image) => (
            <li key={image.id}>
              <a href={detailHref(image.id)} data-id={image.id}>
                <img
                  src={thumbnailSrc(image)}
                  width={image.width}
                  height={image.height}
                  alt={image.text ?? (image.tags.length ? `Tagged ${image.tags.join(", ")}` : image.filename)}
                  decoding="async"
                />
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
