import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, deleteImage, getImage, messageOf, recordUse, replaceTags, updateImage, type Image } from "../api/client";
import { canDelete, canWrite, useAccount } from "../account";
import { currentToken, withWriteToken } from "../auth";
import { describeImage, formatBytes, formatDate, formatType, imageTitle } from "../format";
import { lastLibraryHref, libraryHref, navigate } from "../router";
import { cachedImage, forgetImage, rememberImage, setNotice } from "../store";
import { copyImage, formatDuration, placeholderUrl, reducedMotion } from "../media";
import { absoluteUrl, isSameOrigin, sharePageUrl, shortLink, thumbnailSrc } from "../urls";
import { Chips } from "./Chips";
import { ImpliedTags } from "./ImpliedTags";
import { Similar } from "./Similar";
import { SuggestedTags } from "./SuggestedTags";
import { Notice } from "./Notice";
import { TagInput } from "./TagInput";
import { FavouriteButton } from "./FavouriteButton";
import { UploadedBy } from "./UploadedBy";

type Loaded = { status: "ready"; image: Image } | { status: "loading" } | { status: "error"; error: ApiError | Error };

export function Detail({ id }: { id: string }) {
  const [state, setState] = useState<Loaded>(() => {
    const cached = cachedImage(id);
    return cached ? { status: "ready", image: cached } : { status: "loading" };
  });
  const [attempt, setAttempt] = useState(0);

  // Opening an image is a use (so are copying and downloading it): `sort:popular` learns what people reach for.
  useEffect(() => noteUse(id), [id]);

  // Every image page has its own title: the caption (or the filename as words), so tabs and history tell them apart.
  const title =
    state.status === "ready"
      ? imageTitle(state.image)
      : state.status === "loading"
        ? "Image"
        : state.error instanceof ApiError && state.error.status === 404
          ? "Image not found"
          : "Image";
  useEffect(() => {
    document.title = `${title} · reactbin`;
  }, [title]);

  useEffect(() => {
    const controller = new AbortController();
    getImage(id, controller.signal)
      .then((image) => {
        rememberImage(image);
        setState({ status: "ready", image });
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted) return;
        setState({ status: "error", error: err instanceof Error ? err : new Error(messageOf(err)) });
      });
    return () => controller.abort();
  }, [id, attempt]);

  const back = (
    <a class="back" href={lastLibraryHref()}>
      <svg viewBox="0 0 16 16" aria-hidden="true">
        <path d="M10 3L5 8l5 5" />
      </svg>
      Library
    </a>
  );

  if (state.status === "loading") {
    return (
      <div class="detail-page">
        {back}
        <Notice kind="loading" title="Loading image…" />
      </div>
    );
  }
  if (state.status === "error") {
    const missing = state.error instanceof ApiError && state.error.status === 404;
    return (
      <div class="detail-page">
        {back}
        <Notice kind="error" title={missing ? "Image not found" : "Couldn’t load this image"}>
          <p>{missing ? "It may have been deleted, or the link is wrong." : state.error.message}</p>
          {missing ? (
            <a class="button" href="/">
              Go to the library
            </a>
          ) : (
            <button type="button" class="button" onClick={() => setAttempt((n) => n + 1)}>
              Try again
            </button>
          )}
        </Notice>
      </div>
    );
  }
  return (
    <div class="detail-page">
      {back}
      <ImageView image={state.image} onChange={(image) => setState({ status: "ready", image })} />
    </div>
  );
}

function ImageView({ image, onChange }: { image: Image; onChange: (image: Image) => void }) {
  const ratio = image.width / Math.max(image.height, 1);
  const placeholder = placeholderUrl(image);
  const [status, setStatus] = useState<string | null>(null);
  // The placeholder is opaque: gone once the real picture is there, so it never shows through transparency.
  const [shown, setShown] = useState(false);
  // The thumbnail paints first; the original (often ten times larger) is asked for once it has been painted, so on a
  // slow connection the two do not share the bandwidth and the picture appears at the thumbnail's speed.
  const [previewed, setPreviewed] = useState(false);
  // Reduced motion means no autoplay, not no playback: an animation starts still and plays on request.
  const [playing, setPlaying] = useState(() => !reducedMotion());
  const description = describeImage(image);

  // `c` copies (the image for stills, the link for motion) unless the user is typing.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "c" || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      if (target instanceof HTMLElement && (target.isContentEditable || target.matches("input, textarea, select")))
        return;
      event.preventDefault();
      copyImage(image).then(
        (text) => {
          noteUse(image.id);
          setStatus(text);
        },
        (err: unknown) => setStatus(`Could not copy: ${messageOf(err)}`),
      );
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [image]);
  return (
    <article class="detail">
      <div class="stage">
        <div
          class="frame"
          style={{
            aspectRatio: `${image.width} / ${image.height}`,
            width: `min(100%, ${image.width}px, calc(var(--stage-height) * ${ratio}))`,
          }}
        >
          {placeholder && !shown && (
            <img class="under" src={placeholder} alt="" width={image.width} height={image.height} />
          )}
          <img
            class="under"
            src={thumbnailSrc(image)}
            alt=""
            width={image.width}
            height={image.height}
            fetchpriority="high"
            onLoad={() => afterNextPaint(() => setPreviewed(true))}
            onError={() => setPreviewed(true)}
          />
          {image.kind === "video" ? (
            // Muted so browsers allow autoplay; the controls turn the sound on. No autoplay under reduced motion.
            <video
              class="full"
              src={image.file_url}
              poster={image.thumbnail_url ?? undefined}
              width={image.width}
              height={image.height}
              autoPlay={!reducedMotion()}
              muted
              loop
              playsInline
              controls
              preload="metadata"
              onLoadedData={() => setShown(true)}
              aria-label={description}
            />
          ) : (
            <img
              class="full"
              src={!previewed || (image.kind === "animated" && !playing) ? thumbnailSrc(image) : image.file_url}
              onLoad={() => setShown(true)}
              width={image.width}
              height={image.height}
              alt={description}
            />
          )}
        </div>
        {image.kind === "animated" && (
          <button type="button" class="button play-toggle" onClick={() => setPlaying(!playing)}>
            <svg viewBox="0 0 20 20" aria-hidden="true">
              {playing ? <path d="M7 4v12M13 4v12" /> : <path d="M6 4l10 6-10 6z" />}
            </svg>
            {playing ? "Pause animation" : "Play animation"}
          </button>
        )}
      </div>
      <aside class="panel">
        <div class="title-row">
          <h1 class="filename" title={image.filename}>
            {image.filename}
          </h1>
          <FavouriteButton image={image} onChange={onChange} />
        </div>
        <ShareLink image={image} status={status} setStatus={setStatus} />
        <TagEditor image={image} onChange={onChange} />
        <CaptionEditor image={image} onChange={onChange} />
        <dl class="facts">
          <div>
            <dt>Size</dt>
            <dd>{formatBytes(image.size_bytes)}</dd>
          </div>
          <div>
            <dt>Dimensions</dt>
            <dd>
              {image.width} × {image.height} px
            </dd>
          </div>
          <div>
            <dt>Type</dt>
            <dd>
              {formatType(image.mime_type)}
              {image.kind === "animated" ? " (animated)" : ""}
            </dd>
          </div>
          {image.duration_ms !== null && (
            <div>
              <dt>Duration</dt>
              <dd class="duration">{formatDuration(image.duration_ms)}</dd>
            </div>
          )}
          {image.kind === "video" && (
            <div>
              <dt>Sound</dt>
              <dd>
                <span class={`sound-badge${image.has_audio ? " on" : ""}`}>
                  {image.has_audio ? "Has sound" : "No sound"}
                </span>
              </dd>
            </div>
          )}
          <div>
            <dt>Uploaded</dt>
            <dd>
              <time dateTime={image.created_at}>{formatDate(image.created_at)}</time>
            </dd>
          </div>
          <UploadedBy image={image} />
        </dl>
        <Similar image={image} />
        <Actions image={image} />
      </aside>
    </article>
  );
}

/**
 * Tags edited in place: every add or remove is saved at once (the API normalises; the UI shows the result). A removed
 * tag can be put back with Undo until the next change.
 */
function TagEditor({ image, onChange }: { image: Image; onChange: (image: Image) => void }) {
  const [tags, setTags] = useState(image.tags);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [removed, setRemoved] = useState<string | null>(null);
  const latest = useRef(0);
  const inputRef = useRef<HTMLInputElement>(null);
  const writable = canWrite(useAccount());

  useEffect(() => setTags(image.tags), [image]);

  function save(changed: string[], justRemoved: string | null = null): void {
    setRemoved(justRemoved);
    // The API keeps tags sorted; showing them that way at once avoids a reshuffle when it answers.
    const next = [...changed].sort();
    const request = ++latest.current;
    setTags(next);
    setError(null);
    setSaving(true);
    withWriteToken((token) => replaceTags(image.id, next, token))
      .then((updated) => {
        if (request !== latest.current) return;
        rememberImage(updated);
        onChange(updated);
      })
      .catch((err: unknown) => {
        if (request !== latest.current) return;
        setTags(image.tags);
        setRemoved(null);
        setError(`Tags not saved: ${messageOf(err)}`);
      })
      .finally(() => {
        if (request === latest.current) setSaving(false);
      });
  }

  return (
    <section class="tag-editor" aria-labelledby="tags-heading">
      <h2 id="tags-heading" class="label">
        Tags
        <span class="saving" aria-live="polite">
          {saving ? "Saving…" : ""}
        </span>
      </h2>
      {tags.length === 0 && <p class="muted">No tags yet.</p>}
      <Chips
        tags={tags}
        label="Tags of this image"
        {...(writable
          ? {
              onRemove: (tag: string) => {
                save(
                  tags.filter((item) => item !== tag),
                  tag,
                );
                inputRef.current?.focus();
              },
            }
          : { hrefOf: (tag: string) => libraryHref([tag]) })}
      />
      <p class="undo-row" role="status">
        {removed && (
          <>
            Removed “{removed}”.{" "}
            <button
              type="button"
              class="button small"
              onClick={() => {
                save([...tags, removed]);
                inputRef.current?.focus();
              }}
            >
              Undo
            </button>
          </>
        )}
      </p>
      <ImpliedTags tags={tags} />
      {writable && (
        <>
          <TagInput
            id="tag-add"
            label="Add a tag"
            placeholder="Add a tag and press Enter"
            exclude={tags}
            inputRef={inputRef}
            busy={saving}
            onAdd={(added) => save([...tags, ...added])}
          />
          <SuggestedTags image={image} onChange={onChange} />
        </>
      )}
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      {tags.length > 0 && (
        <p class="find-similar">
          <a class="text-button" href={libraryHref(tags.slice(0, 1))}>
            More tagged “{tags[0]}”
          </a>
        </p>
      )}
    </section>
  );
}

const CAPTION_POLL_MS = 1500;

/** The caption text read from the image (or set by hand), edited in place; polls while it is still being read. */
function CaptionEditor({ image, onChange }: { image: Image; onChange: (image: Image) => void }) {
  const writable = canWrite(useAccount());
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(image.text ?? "");
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const field = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (image.text_status !== "pending" || editing) return;
    const controller = new AbortController();
    const timer = window.setTimeout(() => {
      getImage(image.id, controller.signal)
        .then((fresh) => {
          rememberImage(fresh);
          onChange(fresh);
        })
        .catch(() => {
          // Tried again by the next render's timer only if something changes; a reload shows the text.
        });
    }, CAPTION_POLL_MS);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [image, editing]);

  useEffect(() => {
    if (editing) field.current?.focus();
  }, [editing]);

  function startEditing(): void {
    setDraft(image.text ?? "");
    setError(null);
    setEditing(true);
  }

  function save(): void {
    setSaving(true);
    setError(null);
    withWriteToken((token) => updateImage(image.id, { text: draft }, token))
      .then((updated) => {
        rememberImage(updated);
        onChange(updated);
        setEditing(false);
      })
      .catch((err: unknown) => setError(`Text not saved: ${messageOf(err)}`))
      .finally(() => setSaving(false));
  }

  let shown;
  if (image.text) {
    shown = <p class="caption-text">{image.text}</p>;
  } else if (image.text_status === "pending") {
    shown = (
      <p class="muted" role="status">
        Reading text…
      </p>
    );
  } else if (image.text_status === "failed") {
    shown = <p class="muted">The text in this image could not be read.</p>;
  } else {
    shown = <p class="muted">No text in this image.</p>;
  }

  return (
    <section class="caption-editor" aria-labelledby="caption-heading">
      <h2 id="caption-heading" class="label">
        Text in the image
        <span class="caption-saving" aria-live="polite">
          {saving ? "Saving…" : ""}
        </span>
      </h2>
      {editing ? (
        <form
          class="caption-form"
          onSubmit={(event) => {
            event.preventDefault();
            save();
          }}
        >
          <textarea
            id="caption-text"
            ref={field}
            aria-label="Text in the image"
            rows={3}
            maxLength={2000}
            value={draft}
            onInput={(event) => setDraft(event.currentTarget.value)}
            onKeyDown={(event) => {
              if (event.key === "Escape") setEditing(false);
              if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) save();
            }}
          />
          <div class="action-row">
            <button type="submit" class="button primary" disabled={saving}>
              Save text
            </button>
            <button type="button" class="button" disabled={saving} onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          {shown}
          {writable && (
            <button type="button" class="button" onClick={startEditing}>
              {image.text ? "Edit text" : "Add text"}
            </button>
          )}
        </>
      )}
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** What the main share button does for each kind: a still's pixels, the link of anything that moves. */
function mainAction(image: Image): string {
  if (image.kind === "still") return "Copy image";
  if (image.kind === "video") return "Copy video link";
  return image.mime_type === "image/gif" ? "Copy GIF link" : "Copy animation link";
}

/**
 * The main action first: "Copy image" puts a still's pixels on the clipboard as PNG; an animation or a video would
 * lose its motion there, so its button copies its link (which chat apps play). Then the links, shown in full:
 * "Copy link" copies `file_url` made absolute (a still's; for motion the main button already does), "Copy page
 * link" the share page, which unfurls with the image in chat apps and opens this page.
 */
function ShareLink({
  image,
  status,
  setStatus,
}: {
  image: Image;
  status: string | null;
  setStatus: (text: string) => void;
}) {
  // A copy that reached the clipboard is a use of the image (what `sort:popular` counts).
  const copied = (how: "clipboard" | string, done: string) => {
    if (how === "clipboard") noteUse(image.id);
    setStatus(how === "clipboard" ? done : how);
  };
  return (
    <section class="share" aria-label="Share">
      <div class="share-main">
        <button
          type="button"
          class="button primary"
          aria-keyshortcuts="c"
          onClick={() =>
            void copyImage(image).then(
              (text) => copied("clipboard", text),
              (err: unknown) => setStatus(`Could not copy: ${messageOf(err)}`),
            )
          }
        >
          <CopyIcon />
          {mainAction(image)}
        </button>
        <kbd class="hint" aria-hidden="true" title="Keyboard shortcut">
          c
        </kbd>
      </div>
      {image.kind === "still" && (
        <CopyRow
          id="share-link"
          label="Direct link"
          button="Copy link"
          value={absoluteUrl(image.file_url)}
          onCopied={(how) => copied(how, "Link copied to the clipboard")}
        />
      )}
      <CopyRow
        id="share-page-link"
        label="Page link (unfurls in chat)"
        button="Copy page link"
        value={sharePageUrl(image.id)}
        onCopied={(how) => copied(how, "Page link copied to the clipboard")}
      />
      <p class="copy-status" role="status">
        {status}
      </p>
    </section>
  );
}

function CopyIcon() {
  return (
    <svg viewBox="0 0 20 20" aria-hidden="true">
      <rect x="7" y="7" width="10" height="10" rx="2" />
      <path d="M13 7V5a2 2 0 0 0-2-2H5a2 2 0 0 0-2 2v6a2 2 0 0 0 2 2h2" />
    </svg>
  );
}

/** A link, shown so it can be recognised (host and end), with a button that copies all of it. */
function CopyRow(props: {
  id: string;
  label: string;
  button: string;
  value: string;
  onCopied: (how: "clipboard" | string) => void;
}) {
  const [manual, setManual] = useState(false);
  const field = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (!manual) return;
    field.current?.focus();
    field.current?.select();
  }, [manual]);

  async function copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(props.value);
      setManual(false);
      props.onCopied("clipboard");
    } catch {
      // No clipboard access (e.g. plain HTTP on a LAN address): show the whole link selected so Ctrl+C copies it.
      setManual(true);
      props.onCopied("Press Ctrl+C to copy the selected link");
    }
  }

  return (
    <div class="copy-row">
      <span class="label" id={`${props.id}-label`}>
        {props.label}
      </span>
      <div class="copy-line">
        <code class="link-text" id={props.id} title={props.value}>
          {shortLink(props.value)}
        </code>
        <button type="button" class="button" aria-describedby={props.id} onClick={() => void copy()}>
          {props.button}
        </button>
      </div>
      {manual && (
        <input
          ref={field}
          class="link-field"
          type="text"
          readOnly
          value={props.value}
          aria-labelledby={`${props.id}-label`}
        />
      )}
    </div>
  );
}

function Actions({ image }: { image: Image }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const deletable = canDelete(useAccount(), image);

  async function confirmDelete(): Promise<void> {
    setDeleting(true);
    setDeleteError(null);
    try {
      await withWriteToken((token) => deleteImage(image.id, token));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) {
        setDeleting(false);
        setDeleteError(messageOf(err));
        return;
      }
    }
    forgetImage(image.id);
    dialog.current?.close();
    setNotice(`Deleted ${image.filename}.`);
    navigate(lastLibraryHref());
  }

  return (
    <section class="actions" aria-label="Manage">
      <div class="action-row">
        {/* Browsers honour `download` only on the page's own origin; a CDN file opens in a new tab instead. */}
        {isSameOrigin(image.file_url) ? (
          <a class="button" href={image.file_url} download={image.filename} onClick={() => noteUse(image.id)}>
            Download
          </a>
        ) : (
          <a
            class="button"
            href={image.file_url}
            target="_blank"
            rel="noopener noreferrer"
            onClick={() => noteUse(image.id)}
          >
            Download
          </a>
        )}
        {deletable && (
          <button
            type="button"
            class="button danger"
            onClick={() => {
              setDeleteError(null);
              dialog.current?.showModal();
            }}
          >
            Delete…
          </button>
        )}
      </div>
      <dialog ref={dialog} class="confirm" aria-labelledby="delete-title" aria-describedby="delete-text">
        <h2 id="delete-title">Delete this image?</h2>
        <p id="delete-text">
          <strong>{image.filename}</strong> and its thumbnail will be removed for everyone. Links to it will stop
          working. This cannot be undone.
        </p>
        {deleteError && (
          <p class="field-error" role="alert">
            {deleteError}
          </p>
        )}
        <form method="dialog" class="dialog-buttons">
          <button type="submit" class="button" autofocus disabled={deleting}>
            Cancel
          </button>
          <button
            type="button"
            class="button danger solid"
            disabled={deleting}
            onClick={() => void confirmDelete()}
          >
            {deleting ? "Deleting…" : "Delete image"}
          </button>
        </form>
      </dialog>
    </section>
  );
}

/** Run `then` once the browser has painted the current frame (the next frame has started). */
function afterNextPaint(then: () => void): void {
  requestAnimationFrame(() => requestAnimationFrame(then));
}

/** Record a use without ever bothering the person: a refused or failed count (no token, rate limit) is ignored. */
function noteUse(id: string): void {
  recordUse(id, currentToken()).catch(() => undefined);
}
