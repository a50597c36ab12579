// What the app remembers between views: the last known version of each image, loaded library pages
// (so going back to the library is instant and keeps its scroll position) and one-shot notices.
import type { DidYouMean, Image } from "./api/client";

export interface LibraryPage {
  items: Image[];
  cursor: string | null;
  done: boolean;
  /** What an empty search offers instead ("did you mean"). */
  didYouMean?: DidYouMean | null;
}

const images = new Map<string, Image>();
const libraries = new Map<string, LibraryPage>();
let notice: string | null = null;
let droppedFiles: File[] = [];

export function libraryKey(tags: readonly string[], q = ""): string {
  return JSON.stringify([tags, q]);
}

export function cachedLibrary(tags: readonly string[], q = ""): LibraryPage | undefined {
  return libraries.get(libraryKey(tags, q));
}

export function storeLibrary(tags: readonly string[], page: LibraryPage, q = ""): void {
  for (const image of page.items) images.set(image.id, image);
  libraries.set(libraryKey(tags, q), page);
}

export function cachedImage(id: string): Image | undefined {
  return images.get(id);
}

export function rememberImage(image: Image): void {
  images.set(image.id, image);
  for (const [key, page] of libraries) {
    const [wanted, q] = JSON.parse(key) as [string[], string];
    // Only the server can tell whether a query still matches; a tag filter is checked here.
    const matches = q !== "" || wanted.every((tag) => image.tags.includes(tag));
    page.items = page.items.flatMap((item) => (item.id !== image.id ? [item] : matches ? [image] : []));
  }
}

export function forgetImage(id: string): void {
  images.delete(id);
  for (const page of libraries.values()) page.items = page.items.filter((item) => item.id !== id);
}

/** New uploads or changed tags can change any list: reload lists next time they are shown. */
export function forgetLibraries(): void {
  libraries.clear();
}

export function setNotice(text: string): void {
  notice = text;
}

export function takeNotice(): string | null {
  const text = notice;
  notice = null;
  return text;
}

type FilesListener = (files: File[]) => void;
const filesListeners = new Set<FilesListener>();

/** Files dropped anywhere on the page: the upload page takes them, now or when it opens. */
export function handOverFiles(files: File[]): void {
  if (files.length === 0) return;
  if (filesListeners.size === 0) droppedFiles = [...droppedFiles, ...files];
  for (const listener of filesListeners) listener(files);
}

export function receiveFiles(listener: FilesListener): () => void {
  filesListeners.add(listener);
  const waiting = droppedFiles;
  droppedFiles = [];
  if (waiting.length > 0) listener(waiting);
  return () => filesListeners.delete(listener);
}
