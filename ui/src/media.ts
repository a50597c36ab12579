import type { RefObject } from "preact";
import { useEffect, useState } from "preact/hooks";
import { thumbHashToDataURL } from "thumbhash";
import type { Image } from "./api/client";
import { absoluteUrl } from "./urls";

const placeholders = new Map<string, string>();

/** The image's ThumbHash as a data URL, painted before any thumbnail byte arrives (null when it has none). */
export function placeholderUrl(image: Pick<Image, "placeholder">): string | null {
  const hash = image.placeholder;
  if (!hash) return null;
  let url = placeholders.get(hash);
  if (url === undefined) {
    try {
      url = thumbHashToDataURL(Uint8Array.from(atob(hash), (ch) => ch.charCodeAt(0)));
    } catch {
      url = "";
    }
    placeholders.set(hash, url);
  }
  return url || null;
}

// Decoding a ThumbHash and encoding it as a PNG costs ~2.5 ms before the JIT warms up (measured in Node: 77 ms for
// 30), four times that on a throttled phone: a grid decoding them all while rendering blocked the main thread for
// ~300 ms (Lighthouse's total blocking time). Tiles render without them and get them in slices of a few
// milliseconds right after, long before their thumbnails could arrive over a network.
const SLICE_MS = 8;
const waiting = new Map<string, Set<() => void>>();
let draining = false;

function drain(): void {
  const started = performance.now();
  for (const [hash, listeners] of waiting) {
    waiting.delete(hash);
    placeholderUrl({ placeholder: hash });
    for (const listener of listeners) listener();
    if (performance.now() - started > SLICE_MS) break;
  }
  draining = waiting.size > 0;
  if (draining) setTimeout(drain, 0);
}

/** The placeholder of an image: at once when it was decoded before, else from a slice of work soon after. */
export function usePlaceholder(image: Pick<Image, "placeholder">): string | null {
  const hash = image.placeholder;
  const [url, setUrl] = useState<string | null>(() => (hash && placeholders.has(hash) ? placeholderUrl(image) : null));
  useEffect(() => {
    if (url !== null || !hash) return;
    const done = () => setUrl(placeholderUrl({ placeholder: hash }));
    const listeners = waiting.get(hash) ?? new Set();
    listeners.add(done);
    waiting.set(hash, listeners);
    if (!draining) {
      draining = true;
      setTimeout(drain, 0);
    }
    return () => {
      listeners.delete(done);
    };
  }, [hash]);
  return url;
}

export function reducedMotion(): boolean {
  return window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

function canHover(): boolean {
  return window.matchMedia("(hover: hover) and (pointer: fine)").matches;
}

/**
 * Whether a tile should play its preview: while hovered or focused on desktop, while in view on touch screens,
 * never under `prefers-reduced-motion`.
 */
export function usePreviewPlaying(target: RefObject<HTMLElement | null>, enabled: boolean): boolean {
  const [playing, setPlaying] = useState(false);
  useEffect(() => {
    const element = target.current;
    if (!element || !enabled || reducedMotion()) {
      setPlaying(false);
      return;
    }
    if (canHover()) {
      const on = () => setPlaying(true);
      const off = () => setPlaying(false);
      element.addEventListener("mouseenter", on);
      element.addEventListener("mouseleave", off);
      element.addEventListener("focusin", on);
      element.addEventListener("focusout", off);
      return () => {
        element.removeEventListener("mouseenter", on);
        element.removeEventListener("mouseleave", off);
        element.removeEventListener("focusin", on);
        element.removeEventListener("focusout", off);
      };
    }
    const observer = new IntersectionObserver((entries) => setPlaying(entries.some((e) => e.intersectionRatio >= 0.6)), {
      threshold: [0, 0.6, 1],
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [target, enabled]);
  return playing;
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

async function pngOf(url: string): Promise<Blob> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`The server answered ${response.status}.`);
  const bitmap = await createImageBitmap(await response.blob());
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d");
  if (!context) throw new Error("No canvas");
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("PNG encoding failed"))), "image/png"),
  );
}

/**
 * "Copy image": the bytes of a still as PNG (what every chat app accepts). An animation or a video would lose its
 * motion on the clipboard, so its link is copied instead (the button says so). Returns what to tell the user.
 */
export async function copyImage(image: Image): Promise<string> {
  const link = absoluteUrl(image.file_url);
  if (image.kind !== "still") {
    await navigator.clipboard.writeText(link);
    const what = image.kind === "video" ? "Video" : image.mime_type === "image/gif" ? "GIF" : "Animation";
    return `${what} link copied (it plays where you paste it)`;
  }
  try {
    // The promise goes into the ClipboardItem at once, so the copy still counts as part of the click.
    await navigator.clipboard.write([new ClipboardItem({ "image/png": pngOf(image.file_url) })]);
    return "Image copied to the clipboard";
  } catch {
    await navigator.clipboard.writeText(link);
    return "This browser could not copy the image itself, so its link was copied instead.";
  }
}
