// Share out: the original file to another app through the system share sheet (`navigator.share` with files), so a
// GIF stays animated and a video plays there. Where the browser cannot share files, the link is copied instead.
import { recordUse, type Image } from "./api/client";
import { currentToken } from "./auth";
import { rememberRecent } from "./offline";
import { absoluteUrl } from "./urls";

export type ShareOutcome =
  | { kind: "shared" }
  | { kind: "cancelled" }
  | { kind: "copied"; reason: string }
  | { kind: "again"; file: File }
  | { kind: "failed"; message: string };

/** Whether this browser shares files at all (asked with a tiny file of an accepted type; no bytes fetched). */
export function canShareFiles(): boolean {
  if (typeof navigator.canShare !== "function") return false;
  try {
    return navigator.canShare({ files: [new File([new Uint8Array([0])], "probe.png", { type: "image/png" })] });
  } catch {
    return false;
  }
}

/** The original bytes as a File named like the upload, typed as stored. */
export async function originalFile(image: Image): Promise<File> {
  const response = await fetch(image.file_url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  const blob = await response.blob();
  return new File([blob], image.filename, { type: image.mime_type });
}

/**
 * Share `image` (or a `file` fetched by an earlier tap). Sharing needs a recent tap: when fetching a large file took
 * too long, the outcome is "again" with the file ready for the next tap. A share or copy that worked is a use.
 */
export async function shareImage(image: Image, file?: File): Promise<ShareOutcome> {
  let outcome: ShareOutcome;
  if (!canShareFiles()) {
    outcome = await copyLink(image, "this browser can’t share files");
  } else {
    let original = file;
    if (!original) {
      try {
        original = await originalFile(image);
      } catch {
        original = undefined;
      }
    }
    if (!original || !navigator.canShare({ files: [original] })) {
      outcome = await copyLink(image, original ? "this file can’t be shared from this browser" : "the file could not be fetched");
    } else {
      try {
        await navigator.share({ files: [original], title: image.text ?? image.filename });
        outcome = { kind: "shared" };
      } catch (err) {
        if (err instanceof DOMException && err.name === "AbortError") outcome = { kind: "cancelled" };
        else if (err instanceof DOMException && err.name === "NotAllowedError") outcome = { kind: "again", file: original };
        else outcome = await copyLink(image, "sharing failed");
      }
    }
  }
  if (outcome.kind === "shared" || outcome.kind === "copied") {
    rememberRecent(image);
    recordUse(image.id, currentToken()).catch(() => undefined);
  }
  return outcome;
}

async function copyLink(image: Image, reason: string): Promise<ShareOutcome> {
  const link = absoluteUrl(image.file_url);
  try {
    await navigator.clipboard.writeText(link);
    return { kind: "copied", reason };
  } catch {
    return { kind: "failed", message: `Could not share or copy (${reason}). The link is ${link}` };
  }
}

/** What to tell the person after a share. */
export function describe(outcome: ShareOutcome): string {
  switch (outcome.kind) {
    case "shared":
      return "Shared";
    case "cancelled":
      return "";
    case "copied":
      return `Link copied: ${outcome.reason}, so the link was copied instead.`;
    case "again":
      return "The file is ready: tap Share again to send it.";
    case "failed":
      return outcome.message;
  }
}
