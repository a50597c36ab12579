// What the server accepts (src/reactbin/media: JPEG, PNG and APNG, GIF, WebP, AVIF, MP4, WebM), recognised from a
// file's first bytes as the server does, so a file it would surely refuse is never sent. The server stays the
// judge: a file that passes here may still be refused (damaged, too large), and an ISO media file (MP4, AVIF, MOV,
// HEIC all start with `ftyp`) is always left to it.

export const ACCEPTED_NAMES = "JPEG, PNG, GIF, WebP, AVIF, MP4 or WebM";
/** What a refused file says: short, and what to do instead. */
export const NOT_ACCEPTED = `Not an image or video reactbin takes: use ${ACCEPTED_NAMES}.`;
/** For the file picker: lets the system offer only these (the bytes are checked anyway). */
export const ACCEPT_ATTRIBUTE = "image/jpeg,image/png,image/apng,image/gif,image/webp,image/avif,video/mp4,video/webm";

const HEAD_BYTES = 64;

function startsWith(head: Uint8Array, bytes: readonly number[], offset = 0): boolean {
  return bytes.every((byte, index) => head[offset + index] === byte);
}

function ascii(text: string): number[] {
  return [...text].map((char) => char.charCodeAt(0));
}

/** Whether the first bytes can be an accepted type (false only when they surely are not). */
export function headLooksAccepted(head: Uint8Array): boolean {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return true; // JPEG
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return true; // PNG, APNG
  if (startsWith(head, ascii("GIF87a")) || startsWith(head, ascii("GIF89a"))) return true;
  if (startsWith(head, ascii("RIFF")) && startsWith(head, ascii("WEBP"), 8)) return true;
  if (startsWith(head, ascii("ftyp"), 4)) return true; // MP4, AVIF (and others the server tells apart)
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) {
    // Matroska's EBML header names its DocType early: WebM is accepted, other Matroska files are not.
    return !String.fromCharCode(...head).includes("matroska");
  }
  return false;
}

/** Whether `file` can be an accepted image or video, from its first bytes (its name and type are not trusted). */
export async function looksAccepted(file: File): Promise<boolean> {
  const head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  return headLooksAccepted(head);
}
