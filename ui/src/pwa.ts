// The installable app's page side: the service worker's registration, whether the network is there, and the files
// the system share sheet handed to the service worker (src/sw/sw.ts) for the upload screen.
import { useEffect, useState } from "preact/hooks";
import { SHARE_CACHE, SHARE_PREFIX, SHARED_NAME_HEADER } from "./sw/names";

/** Register /sw.js (built UIs only: the dev server has no worker) once the page has loaded. */
export function registerServiceWorker(): void {
  if (import.meta.env.DEV || !("serviceWorker" in navigator)) return;
  const register = () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
      // Without a worker the app works as before, only not offline (e.g. plain HTTP on a LAN address).
    });
  };
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register, { once: true });
}

/** `navigator.onLine`, kept current: false means the device has no network at all. */
export function useOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    return () => {
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
    };
  }, []);
  return online;
}

/** The files of one share (`/upload?shared=<id>`), removed from the worker's keeping as they are taken. */
export async function takeSharedFiles(id: string): Promise<File[]> {
  if (!("caches" in window)) return [];
  const cache = await caches.open(SHARE_CACHE);
  const prefix = `${SHARE_PREFIX}${id}/`;
  const requests = (await cache.keys()).filter((request) => new URL(request.url).pathname.startsWith(prefix));
  requests.sort((a, b) => Number(a.url.split("/").pop()) - Number(b.url.split("/").pop()));
  const files: File[] = [];
  for (const request of requests) {
    const response = await cache.match(request);
    if (!response) continue;
    const name = decodeURIComponent(response.headers.get(SHARED_NAME_HEADER) ?? "shared");
    const blob = await response.blob();
    files.push(new File([blob], name, { type: response.headers.get("content-type") ?? blob.type }));
    await cache.delete(request);
  }
  return files;
}
