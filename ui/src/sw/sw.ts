/// <reference lib="webworker" />
// The service worker: the installed app opens without a connection and takes files shared to it.
//
// - The app shell (index.html, the hashed assets, icons, the manifest) is precached at install; pages of the app are
//   answered from it at once, and hashed assets are served cache-first (their names change with their content).
// - API reads of images (lists, searches, one image) go to the network first; the last answer of each is kept (a
//   few dozen) for when the network is gone.
// - Thumbnails and previews are immutable: cache-first, kept under a byte cap, least recently used out first.
// - A POST to the share target (the system share sheet) keeps the shared files and opens the upload screen.
// Nothing else is touched: uploads, writes, originals, videos and every other path go straight to the network.

import { OFFLINE_CODE, SHARE_CACHE, SHARE_PREFIX, SHARE_TARGET, SHARED_NAME_HEADER } from "./names";

declare const self: ServiceWorkerGlobalScope;
/** Injected by vite.sw.config.ts: the shell's URLs and a version that changes whenever one of them does. */
declare const __SHELL__: string[];
declare const __VERSION__: string;

const SHELL_CACHE = `reactbin-shell-${__VERSION__}`;
const API_CACHE = "reactbin-api-v1";
const THUMBNAIL_CACHE = "reactbin-thumbnails-v1";
const API_ENTRIES = 60;
const THUMBNAIL_BYTES = 24 * 1024 * 1024;
const SHARE_LIFETIME_MS = 24 * 3600 * 1000;
const INDEX_KEY = "/__reactbin/thumbnail-index";

// Paths the server answers itself (never the single-page app's shell), also when they are navigated to.
const SERVER_PATHS = [/^\/api\//, /^\/i\//, /^\/auth\//, /^\/metrics$/, /^\/healthz$/, /^\/readyz$/, /^\/sw\.js$/];
const THUMBNAIL = /^\/api\/v1\/images\/[^/]+\/(?:thumbnail|preview)$/;
const CDN_THUMBNAIL = /\/(?:thumbnails|previews)\/v\d+\/[0-9a-f]{64}\.\w+$/;
const API_READ = /^\/api\/v1\/images(?:\/[0-9a-fA-F-]{36})?$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      await cache.addAll(__SHELL__);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("reactbin-shell-") && name !== SHELL_CACHE) await caches.delete(name);
      }
      await forgetOldShares();
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  const local = url.origin === self.location.origin;
  if (local && request.method === "POST" && url.pathname === SHARE_TARGET) {
    event.respondWith(receiveShare(request));
    return;
  }
  if (request.method !== "GET") return;
  if (!local) {
    if (CDN_THUMBNAIL.test(url.pathname)) event.respondWith(thumbnail(request, event));
    return;
  }
  if (request.mode === "navigate" && !SERVER_PATHS.some((path) => path.test(url.pathname))) {
    event.respondWith(shell(request));
  } else if (url.pathname.startsWith("/assets/") || __SHELL__.includes(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (THUMBNAIL.test(url.pathname)) {
    event.respondWith(thumbnail(request, event));
  } else if (API_READ.test(url.pathname)) {
    event.respondWith(networkFirst(request, event));
  }
});

/** A page of the app: the precached shell, at once (the app then fetches what it shows). */
async function shell(request: Request): Promise<Response> {
  const cached = await caches.match("/", { cacheName: SHELL_CACHE });
  return cached ?? fetch(request);
}

async function cacheFirst(request: Request): Promise<Response> {
  const cached = await caches.match(request, { cacheName: SHELL_CACHE });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && new URL(request.url).pathname.startsWith("/assets/")) {
    const copy = response.clone();
    void caches.open(SHELL_CACHE).then((cache) => cache.put(request, copy));
  }
  return response;
}

async function networkFirst(request: Request, event: FetchEvent): Promise<Response> {
  try {
    const response = await fetch(request);
    if (response.ok) event.waitUntil(keepApiAnswer(request.url, response.clone()));
    return response;
  } catch {
    const cached = await caches.match(request.url, { cacheName: API_CACHE });
    if (cached) return cached;
    const body = { detail: "You are offline, and this was not saved for offline use", code: OFFLINE_CODE };
    return new Response(JSON.stringify(body), { status: 503, headers: { "content-type": "application/json" } });
  }
}

async function keepApiAnswer(url: string, response: Response): Promise<void> {
  const cache = await caches.open(API_CACHE);
  await cache.delete(url); // re-added last: keys() lists the oldest first
  await cache.put(url, response);
  const keys = await cache.keys();
  for (const key of keys.slice(0, Math.max(0, keys.length - API_ENTRIES))) await cache.delete(key);
}

// --- thumbnails under a byte cap ---------------------------------------------------------------------------------

type ThumbnailIndex = Record<string, { bytes: number; used: number }>;
let index: Promise<ThumbnailIndex> | null = null;
let indexWrites: Promise<void> = Promise.resolve();

function loadIndex(): Promise<ThumbnailIndex> {
  index ??= caches
    .open(THUMBNAIL_CACHE)
    .then((cache) => cache.match(INDEX_KEY))
    .then((saved) => (saved ? (saved.json() as Promise<ThumbnailIndex>) : {}))
    .catch(() => ({}));
  return index;
}

async function thumbnail(request: Request, event: FetchEvent): Promise<Response> {
  const url = request.url;
  const cache = await caches.open(THUMBNAIL_CACHE);
  const cached = await cache.match(url);
  if (cached) {
    const entries = await loadIndex();
    if (entries[url]) entries[url].used = Date.now(); // saved with the next change
    return cached;
  }
  let response: Response;
  const local = new URL(url).origin === self.location.origin;
  try {
    // A CDN answers an <img>'s no-cors request with an opaque response, which cannot be measured (and counts as
    // megabytes against the quota): ask for CORS, and keep the picture only when the CDN allows it.
    response = local ? await fetch(request) : await fetch(url, { mode: "cors", credentials: "omit" });
  } catch (err) {
    if (local) throw err;
    return fetch(request);
  }
  if (response.ok && (response.type === "basic" || response.type === "cors")) {
    event.waitUntil(keepThumbnail(url, response.clone()));
  }
  return response;
}

function keepThumbnail(url: string, response: Response): Promise<void> {
  indexWrites = indexWrites.then(async () => {
    const body = await response.blob();
    if (body.size > THUMBNAIL_BYTES / 8) return; // one picture may not push out most of the others
    const cache = await caches.open(THUMBNAIL_CACHE);
    const entries = await loadIndex();
    await cache.put(url, new Response(body, { headers: response.headers }));
    entries[url] = { bytes: body.size, used: Date.now() };
    let total = Object.values(entries).reduce((sum, entry) => sum + entry.bytes, 0);
    for (const [key, entry] of Object.entries(entries).sort((a, b) => a[1].used - b[1].used)) {
      if (total <= THUMBNAIL_BYTES) break;
      await cache.delete(key);
      delete entries[key];
      total -= entry.bytes;
    }
    await cache.put(INDEX_KEY, new Response(JSON.stringify(entries), { headers: { "content-type": "application/json" } }));
  });
  return indexWrites.catch(() => undefined);
}

// --- the share target --------------------------------------------------------------------------------------------

/** Keep the shared files for the upload screen and open it; text and links alone are not uploads (it says so). */
async function receiveShare(request: Request): Promise<Response> {
  let files: File[] = [];
  try {
    const form = await request.formData();
    files = form.getAll("files").filter((item): item is File => item instanceof File && item.size > 0);
  } catch {
    // Not a form: the upload screen says nothing arrived.
  }
  const id = `${Date.now()}-${crypto.randomUUID()}`;
  const cache = await caches.open(SHARE_CACHE);
  await Promise.all(
    files.map((file, position) =>
      cache.put(
        `${SHARE_PREFIX}${id}/${position}`,
        new Response(file, {
          headers: {
            "content-type": file.type || "application/octet-stream",
            [SHARED_NAME_HEADER]: encodeURIComponent(file.name || `shared-${position + 1}`),
          },
        }),
      ),
    ),
  );
  await forgetOldShares();
  return Response.redirect(`/upload?shared=${encodeURIComponent(id)}`, 303);
}

/** Shares the upload screen never took (it was closed at once) are dropped after a day. */
async function forgetOldShares(): Promise<void> {
  const cache = await caches.open(SHARE_CACHE);
  for (const request of await cache.keys()) {
    const id = new URL(request.url).pathname.slice(SHARE_PREFIX.length).split("/")[0] ?? "";
    const stamp = Number(id.split("-")[0]);
    if (!Number.isFinite(stamp) || Date.now() - stamp > SHARE_LIFETIME_MS) await cache.delete(request);
  }
}
