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

/**
 * A link as a person recognises it in a narrow panel: no scheme, the host, then the end of the path
 * (`cdn.example.com/…/3f2a9c1b….gif`, `reactbin.example.com/i/0f3c5a1e…`). The whole link is what gets copied.
 */
export function shortLink(url: string, room = 34): string {
  const parsed = new URL(url, window.location.origin);
  const path = parsed.pathname + parsed.search;
  if (parsed.host.length + path.length <= room) return parsed.host + path;
  const segments = parsed.pathname.split("/").filter(Boolean);
  const last = segments.at(-1) ?? "";
  const dot = last.lastIndexOf(".");
  const [stem, extension] = dot > 0 ? [last.slice(0, dot), last.slice(dot)] : [last, ""];
  const end = stem.length > 12 ? `${stem.slice(0, 8)}…${extension}` : last;
  const middle = segments.length > 2 ? "/…" : segments.length === 2 ? `/${segments[0]}` : "";
  return `${parsed.host}${middle}/${end}`;
}
