import { formatDuration } from "./media";

const UNITS = ["bytes", "KB", "MB", "GB"] as const;

export function formatBytes(size: number): string {
  let value = size;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

const TYPE_NAMES: Record<string, string> = {
  "image/jpeg": "JPEG",
  "image/png": "PNG",
  "image/gif": "GIF",
  "image/webp": "WebP",
  "image/avif": "AVIF",
  "video/mp4": "MP4 video",
  "video/webm": "WebM video",
};

export function formatType(mime: string): string {
  return TYPE_NAMES[mime] ?? mime;
}

export function formatDate(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

type Described = {
  filename: string;
  text?: string | null;
  tags: readonly string[];
  kind: string;
  mime_type: string;
  duration_ms: number | null;
};

/** The image's caption on one line, cut at `max` characters ("" when it has none). */
export function captionOf(image: Pick<Described, "text">, max = 150): string {
  const text = (image.text ?? "").replace(/\s+/gu, " ").trim();
  return text.length > max ? `${text.slice(0, max - 1).trimEnd()}…` : text;
}

/** A filename as words: "take-my-money.jpg" -> "take my money". */
export function humanName(filename: string): string {
  const words = filename.replace(/\.[^.]+$/u, "").replace(/[-_.]+/gu, " ").trim();
  return words || filename;
}

/** What a page about the image is called: its caption (short), else its filename as words. */
export function imageTitle(image: Pick<Described, "text" | "filename">): string {
  return captionOf(image, 60) || humanName(image.filename);
}

const ANIMATION_NAMES: Record<string, string> = {
  "image/gif": "GIF",
  "image/webp": "WebP",
  "image/png": "APNG",
  "image/apng": "APNG",
  "image/avif": "AVIF",
};

/** The corner badge of a tile that moves: `GIF`, `WebP`, `▶ 0:02`; null for stills. */
export function kindBadge(image: Pick<Described, "kind" | "mime_type" | "duration_ms">): string | null {
  if (image.kind === "video") return image.duration_ms !== null ? `▶ ${formatDuration(image.duration_ms)}` : "▶";
  if (image.kind === "animated") return ANIMATION_NAMES[image.mime_type] ?? "GIF";
  return null;
}

/**
 * Alt text and accessible names: what kind of picture (in the words of its badge), its caption (the words people
 * remember it by) or else its filename as words, and its tags. `GIF: “Why not both?” — tagged choice, taco`.
 */
export function describeImage(image: Described): string {
  const duration = image.duration_ms !== null ? ` ${formatDuration(image.duration_ms)}` : "";
  const badge = kindBadge(image);
  const kind =
    image.kind === "video"
      ? `Video${duration}: `
      : badge === "GIF"
        ? "GIF: "
        : badge
          ? `Animated ${badge}: `
          : "";
  const caption = captionOf(image);
  const what = caption ? `“${caption}”` : humanName(image.filename);
  const tags = image.tags.length ? ` — tagged ${image.tags.join(", ")}` : "";
  return `${kind}${what}${tags}`;
}
