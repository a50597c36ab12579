import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, listImages, messageOf, type DidYouMean, type Image } from "../api/client";
import { describeImage, kindBadge, plural } from "../format";
import { detailHref, libraryHref } from "../router";
import { cachedLibrary, storeLibrary, takeNotice } from "../store";
import { copyImage, usePlaceholder, usePreviewPlaying } from "../media";
import { thumbnailSrc } from "../urls";
import { canWrite, useAccount } from "../account";
import { FavouriteButton } from "./FavouriteButton";
import { Notice } from "./Notice";
import { Toast, useToast } from "./Toast";
import { Views } from "./Views";
import { Offline } from "./Offline";
import { TileMenu } from "./TileMenu";
import { OFFLINE_CODE } from "../sw/names";

const PAGE_SIZE = 30;
/** Tiles that may be in the first screenful load at once (the largest is what Lighthouse times as LCP); the rest
 * load as they near the viewport. A phone shows about 12, a desktop more but over a fast connection. */
const EAGER_TILES = 12;
/** Of those, the ones whose thumbnails are asked for first (the largest of them is the likely LCP). */
const FIRST_TILES = 4;

interface State {
  items: Image[];
  cursor: string | null;
  done: boolean;
  loading: boolean;
  error: string | null;
  didYouMean: DidYouMean | null;
}

function initialState(tags: readonly string[], q: string): State {
  const cached = cachedLibrary(tags, q);
  return cached
    ? { didYouMean: null, ...cached, items: [...cached.items], loading: false, error: null }
    : { items: [], cursor: null, done: false, loading: true, error: null, didYouMean: null };
}

/** Newest images first, or a search's results, loading the next page (keyset cursor) as the end of the grid nears. */
export function Library({ tags, q, focusId }: { tags: string[]; q: string; focusId: string | null }) {
  const [state, setState] = useState<State>(() => initialState(tags, q));
  const account = useAccount();
  const [notice] = useState(takeNotice);
  const [copied, showCopied] = useToast();
  const [offline, setOffline] = useState(false);
  const sentinel = useRef<HTMLDivElement>(null);
  const loading = useRef(false);
  const key = `${tags.join("\n")}\n${q}`;

  function loadPage(from: State, signal?: AbortSignal): void {
    if (loading.current || from.done) return;
    loading.current = true;
    setState({ ...from, loading: true, error: null });
    const cursor = from.cursor;
    listImages({ tag: tags, limit: PAGE_SIZE, ...(q ? { q } : {}), ...(cursor ? { cursor } : {}) }, signal)
      .then((page) => {
        const seen = new Set(from.items.map((item) => item.id));
        const items = [...from.items, ...page.items.filter((item) => !seen.has(item.id))];
        const didYouMean = from.items.length === 0 ? (page.did_you_mean ?? null) : from.didYouMean;
        const next = { items, cursor: page.next_cursor, done: page.next_cursor === null, didYouMean };
        storeLibrary(tags, next, q);
        setState({ ...next, loading: false, error: null });
      })
      .catch((err: unknown) => {
        if (signal?.aborted) return;
        // The service worker answers "offline" when the network is gone and the page was never saved.
        if (err instanceof ApiError && err.code === OFFLINE_CODE && from.items.length === 0) setOffline(true);
        setState({ ...from, loading: false, error: messageOf(err) });
      })
      .finally(() => {
        loading.current = false;
      });
  }

  // A new search: show what is cached or load the first page.
  useEffect(() => {
    const fresh = initialState(tags, q);
    loading.current = false;
    setOffline(false);
    setState(fresh);
    if (fresh.items.length > 0 || fresh.done) return;
    const controller = new AbortController();
    loadPage({ ...fresh, loading: false }, controller.signal);
    return () => {
      controller.abort();
      loading.current = false;
    };
  }, [key]);

  // Coming back from an image: put keyboard focus back on its tile.
  useEffect(() => {
    if (!focusId) return;
    document.querySelector<HTMLElement>(`a[data-id="${CSS.escape(focusId)}"]`)?.focus({ preventScroll: true });
  }, []);

  // Infinite scroll. A new observer after every page reports at once whether the end is still in view.
  useEffect(() => {
    const target = sentinel.current;
    if (!target || state.loading || state.done || state.error) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) loadPage(state);
      },
      { rootMargin: "0px 0px 800px 0px" },
    );
    observer.observe(target);
    return () => observer.disconnect();
  }, [state]);

  const searching = tags.length > 0 || q !== "";
  const popular = q === "sort:popular" && tags.length === 0;
  const favourites = q === "is:fav" && tags.length === 0;
  const tagList = tags.map((tag, index) => (
    <Fragment key={tag}>
      {index > 0 && (index === tags.length - 1 ? " and " : ", ")}
      <strong>{tag}</strong>
    </Fragment>
  ));

  if (offline) return <Offline />;

  let body;
  if (state.items.length === 0 && state.loading) {
    body = <Notice kind="loading" title={searching ? "Searching…" : "Loading images…"} />;
  } else if (state.items.length === 0 && state.error) {
    body = (
      <Notice kind="error" title="Couldn’t load images">
        <p>{state.error}</p>
        <button type="button" class="button" onClick={() => loadPage(state)}>
          Try again
        </button>
      </Notice>
    );
  } else if (state.items.length === 0 && q) {
    const offer = state.didYouMean;
    body = (
      <Notice kind="empty" title="No matching images">
        <p>
          Nothing matches <strong>{q}</strong>
          {tags.length > 0 && <> tagged {tagList}</>}.
        </p>
        {offer && (
          <p class="did-you-mean">
            Did you mean <a href={libraryHref(tags, offer.q)}>{offer.q}</a>?
          </p>
        )}
        <p>
          <a class="button ghost" href="/">
            Show all images
          </a>
        </p>
      </Notice>
    );
  } else if (state.items.length === 0 && searching) {
    body = (
      <Notice kind="empty" title="No matching images">
        <p>No image is tagged {tagList}.</p>
        <p>
          <a class="button" href={libraryHref(tags.slice(0, -1))}>
            Remove “{tags.at(-1)}”
          </a>{" "}
          <a class="button ghost" href="/">
            Show all images
          </a>
        </p>
      </Notice>
    );
  } else if (state.items.length === 0) {
    body = (
      <Notice kind="empty" title="No images yet">
        <p>The library is empty.{canWrite(account) ? " Upload a few reaction images to get started." : ""}</p>
        {canWrite(account) && (
          <a class="button primary" href="/upload">
            Upload images
          </a>
        )}
      </Notice>
    );
  } else {
    body = (
      <>
        <ul
          class="grid"
          aria-label={searching ? "Matching images" : "Images, newest first"}
          onKeyDown={(event) => onGridKey(event, state.items, showCopied)}
        >
          {state.items.map((image, index) => (
            <Tile
              key={image.id}
              image={image}
              eager={index < EAGER_TILES}
              first={index < FIRST_TILES}
              onStatus={showCopied}
            />
          ))}
        </ul>
        <Toast text={copied} />
        <div ref={sentinel} class="sentinel" />
        <div class="grid-footer" aria-live="polite">
          {state.loading && (
            <p class="loading-more">
              <span class="spinner small" aria-hidden="true" /> Loading more…
            </p>
          )}
          {state.error && !state.loading && (
            <p class="field-error" role="alert">
              {state.error}{" "}
              <button type="button" class="button small" onClick={() => loadPage(state)}>
                Try again
              </button>
            </p>
          )}
          {!state.loading && !state.error && !state.done && (
            <button type="button" class="button ghost" onClick={() => loadPage(state)}>
              Load more
            </button>
          )}
          {state.done && state.items.length > PAGE_SIZE && (
            <p class="muted">That’s all {plural(state.items.length, "image")}.</p>
          )}
        </div>
      </>
    );
  }

  return (
    <div class="library">
      {notice && (
        <p class="flash" role="status">
          {notice}
        </p>
      )}
      <Views current={!searching ? "newest" : popular ? "popular" : q === "is:fav" ? "favourites" : null} />
      <h1 class={searching && !popular ? "page-title" : "visually-hidden"}>
        {popular ? (
          "Most used"
        ) : favourites ? (
          "Favourites"
        ) : q ? (
          <>Results for “{q}”</>
        ) : searching ? (
          <>Tagged {tagList}</>
        ) : (
          "Library"
        )}
      </h1>
      {body}
    </div>
  );
}

// Layout only: very wide or tall images are cropped in the grid so one image cannot take a whole row.
function layoutRatio(image: Image): number {
  const ratio = image.width > 0 && image.height > 0 ? image.width / image.height : 1;
  return Math.min(Math.max(ratio, 0.5), 2.4);
}

function Tile({
  image,
  eager,
  first,
  onStatus,
}: {
  image: Image;
  eager: boolean;
  first: boolean;
  onStatus: (text: string) => void;
}) {
  const ratio = layoutRatio(image);
  const label = describeImage(image);
  const badge = kindBadge(image);
  const link = useRef<HTMLAnchorElement>(null);
  const playing = usePreviewPlaying(link, image.preview_url !== null);
  const placeholder = usePlaceholder(image);
  const [loaded, setLoaded] = useState(false);
  return (
    <li class="tile" style={{ "--ratio": ratio }}>
      <a
        ref={link}
        href={detailHref(image.id)}
        data-id={image.id}
        data-kind={image.kind}
        aria-label={label}
        class={loaded ? "loaded" : undefined}
        style={placeholder ? { backgroundImage: `url("${placeholder}")` } : undefined}
      >
        <img
          class="thumb"
          src={thumbnailSrc(image)}
          width={image.width}
          height={image.height}
          alt=""
          loading={eager ? "eager" : "lazy"}
          fetchpriority={first ? "high" : undefined}
          decoding="async"
          onLoad={() => setLoaded(true)}
        />
        {playing && image.preview_url && <img class="preview" src={image.preview_url} alt="" decoding="async" />}
        {badge && (
          <span class="tile-kind" aria-hidden="true">
            {badge}
          </span>
        )}
      </a>
      <FavouriteButton image={image} />
      <TileMenu image={image} onStatus={onStatus} />
    </li>
  );
}

/** Arrow keys move between tiles (up/down to the nearest tile in the next row), `c` copies the focused one. */
function onGridKey(event: KeyboardEvent, items: Image[], announce: (text: string) => void): void {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const current = (event.target as HTMLElement).closest<HTMLAnchorElement>("a[data-id]");
  if (!current) return;
  const tiles = [...document.querySelectorAll<HTMLAnchorElement>(".grid a[data-id]")];
  const index = tiles.indexOf(current);
  if (event.key === "c") {
    const image = items.find((item) => item.id === current.dataset.id);
    if (!image) return;
    event.preventDefault();
    copyImage(image).then(announce, (err: unknown) => announce(`Could not copy: ${String(err)}`));
    return;
  }
  let next: HTMLAnchorElement | undefined;
  if (event.key === "ArrowRight") next = tiles[index + 1];
  else if (event.key === "ArrowLeft") next = tiles[index - 1];
  else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const from = current.getBoundingClientRect();
    const down = event.key === "ArrowDown";
    const centre = from.left + from.width / 2;
    let best = Infinity;
    for (const tile of tiles) {
      const box = tile.getBoundingClientRect();
      const rowGap = down ? box.top - from.bottom : from.top - box.bottom;
      if (rowGap < -1) continue;
      const score = rowGap * 10 + Math.abs(box.left + box.width / 2 - centre);
      if (score < best) {
        best = score;
        next = tile;
      }
    }
  } else return;
  if (next) {
    event.preventDefault();
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }
}
