// A tiny History API router: a few views, tags in the query string, scroll restored on back/forward.
import { useEffect, useState } from "preact/hooks";
import { queryTerms } from "./query";
import { normaliseTag } from "./tags";

export type Route =
  | { view: "library"; tags: string[]; q: string }
  | { view: "rules" }
  | { view: "detail"; id: string }
  | { view: "upload" }
  | { view: "signin" }
  | { view: "setup"; code: string }
  | { view: "keys" }
  | { view: "users" }
  | { view: "missing" };

export function parseRoute(location: Pick<Location, "pathname" | "search">): Route {
  const path = location.pathname.replace(/\/+$/, "") || "/";
  if (path === "/") {
    // Normalised like the API does, so a hand-typed ?tag=Funny%20Cat shows the chip "funny-cat".
    const params = new URLSearchParams(location.search);
    const tags = params.getAll("tag").map(normaliseTag).filter(Boolean);
    return { view: "library", tags: [...new Set(tags)], q: (params.get("q") ?? "").trim() };
  }
  if (path === "/upload") return { view: "upload" };
  if (path === "/tag-rules") return { view: "rules" };
  if (path === "/signin") return { view: "signin" };
  if (path === "/setup") return { view: "setup", code: new URLSearchParams(location.search).get("code") ?? "" };
  if (path === "/keys") return { view: "keys" };
  if (path === "/users") return { view: "users" };
  const detail = /^\/images\/([^/]+)$/.exec(path);
  if (detail?.[1]) return { view: "detail", id: decodeURIComponent(detail[1]) };
  return { view: "missing" };
}

/** The library for a search: `?q=` holds the query language, `?tag=` the older exact-tag filter (both ANDed). */
export function libraryHref(tags: readonly string[], q = ""): string {
  const search = new URLSearchParams();
  const query = queryTerms(q).join(" "); // one space between terms; phrases keep theirs
  if (query) search.set("q", query);
  for (const tag of tags) search.append("tag", tag);
  const text = search.toString();
  return text ? `/?${text}` : "/";
}

export function detailHref(id: string): string {
  return `/images/${encodeURIComponent(id)}`;
}

type Listener = () => void;
const listeners = new Set<Listener>();
let lastLibrary = "/";

function current(): string {
  return location.pathname + location.search;
}

function notify(): void {
  if (parseRoute(location).view === "library") lastLibrary = current();
  for (const listener of listeners) listener();
}

/** The library URL the user last saw, so "back to library" keeps their search. */
export function lastLibraryHref(): string {
  return lastLibrary;
}

export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (href === current() && !options.replace) return;
  if (options.replace) {
    history.replaceState({ scrollY: 0 }, "", href);
  } else {
    history.replaceState({ ...(history.state as object | null), scrollY: window.scrollY }, "");
    history.pushState({ scrollY: 0 }, "", href);
  }
  notify();
  if (!options.replace) window.scrollTo(0, 0);
}

export function startRouter(): void {
  history.scrollRestoration = "manual";
  notify();
  window.addEventListener("popstate", (event) => {
    notify();
    const y = (event.state as { scrollY?: number } | null)?.scrollY ?? 0;
    // After the view has rendered from its cache.
    requestAnimationFrame(() => window.scrollTo(0, y));
  });
  // Same-origin links navigate inside the app unless the user asked for a new tab, a download, etc.
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchor = (event.target as Element | null)?.closest?.("a[href]");
    if (!(anchor instanceof HTMLAnchorElement)) return;
    if (anchor.target || anchor.hasAttribute("download") || anchor.origin !== location.origin) return;
    if (anchor.pathname.startsWith("/api/") || anchor.pathname.startsWith("/auth/")) return;
    if (anchor.hash && anchor.pathname === location.pathname && anchor.search === location.search) return;
    event.preventDefault();
    navigate(anchor.pathname + anchor.search);
  });
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location));
  useEffect(() => {
    const listener = () => setRoute(parseRoute(location));
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return route;
}
