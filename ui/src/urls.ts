import type { Image } from "./api/client";

// Image bytes are only ever addressed by the URLs the API hands out (CDN or proxy); never built from ids or keys.
export function thumbnailSrc(image: Pick<Image, "thumbnail_url" | "file_url">): string {
  return image.thumbnail_url ?? image.file_url;
}

/** `file_url` as a link to share: a proxy path like /api/v1/... is made absolute with this page's origin. */
export function absoluteUrl(url: string): string {
  return new URL(url, window.location.origin).href;
}

export function isSameOrigin(url: string): boolean {
  return new URL(url, window.location.origin).origin === window.location.origin;
}

/** The share page of an image: a tiny server-rendered page that chat apps unfurl, sending people on to this UI. */
export function sharePageUrl(id: string): string {
  return new URL(`/i/${encodeURIComponent(id)}`, window.location.origin).href;
}
