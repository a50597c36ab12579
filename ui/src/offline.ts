// What the app keeps on this device for the offline screen: the reactions opened, copied or shared recently, and the
// library's most used ones (refreshed in the background while online). The service worker keeps their thumbnails.
import { listImages, type Image } from "./api/client";
import { thumbnailSrc } from "./urls";

const RECENT_KEY = "reactbin.recent";
const POPULAR_KEY = "reactbin.popular";
const KEPT = 24;
const POPULAR_REFRESH_MS = 10 * 60 * 1000;

function read(key: string): Image[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(key) ?? "[]");
    return Array.isArray(value) ? (value as Image[]) : [];
  } catch {
    return [];
  }
}

function write(key: string, images: Image[]): void {
  try {
    localStorage.setItem(key, JSON.stringify(images.slice(0, KEPT)));
  } catch {
    // Storage full or disabled (private mode): the offline screen just has less to show.
  }
}

export function recentImages(): Image[] {
  return read(RECENT_KEY);
}

export function popularImages(): Image[] {
  return read(POPULAR_KEY);
}

/** An image was opened, copied or shared: first in "Recent", and its thumbnail kept for offline use. */
export function rememberRecent(image: Image): void {
  write(RECENT_KEY, [image, ...recentImages().filter((item) => item.id !== image.id)]);
  keepThumbnails([image]);
}

/** Forget an image everywhere (it was deleted). */
export function forgetOffline(id: string): void {
  write(RECENT_KEY, recentImages().filter((item) => item.id !== id));
  write(POPULAR_KEY, popularImages().filter((item) => item.id !== id));
}

let popularFetched = 0;

/** While online, now and then: fetch the most used reactions so the offline screen has them. */
export function refreshPopular(): void {
  if (!navigator.onLine || Date.now() - popularFetched < POPULAR_REFRESH_MS) return;
  popularFetched = Date.now();
  listImages({ q: "sort:popular", limit: KEPT })
    .then((page) => {
      const used = page.items.filter((image) => image.use_count > 0);
      write(POPULAR_KEY, used);
      keepThumbnails(used);
    })
    .catch(() => {
      popularFetched = 0; // try again next time
    });
}

/** Fetch the thumbnails through the service worker, which keeps them (within its byte cap). */
function keepThumbnails(images: Image[]): void {
  if (!navigator.serviceWorker?.controller) return;
  for (const image of images) {
    if (image.thumbnail_url === null) continue; // the original is never kept: it may be a long video
    fetch(thumbnailSrc(image), { mode: "no-cors", priority: "low" } as RequestInit).catch(() => undefined);
  }
}
