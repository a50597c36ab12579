import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, deleteImage, getImage, messageOf, recordUse, replaceTags, updateImage, type Image } from "../api/client";
import { currentToken, withWriteToken } from "../auth";
import { formatBytes, formatDate, formatType } from "../format";
import { lastLibraryHref, libraryHref, navigate } from "../router";
import { cachedImage, forgetImage, rememberImage, setNotice } from "../store";
import { copyImage, formatDuration, placeholderUrl, reducedMotion } from "../media";
import { absoluteUrl, isSameOrigin, sharePageUrl, thumbnailSrc } from "../urls";
import { Chips } from "./Chips";
import { ImpliedTags } from "./ImpliedTags";
import { Notice } from "./Notice";
import { ShareButton } from "./ShareButton";
import { TagInput } from "./TagInput";
import { forgetOffline, rememberRecent } from "../offline";

type Loaded = { status: "ready"; image: Image } | { status: "loading" } | { status: "error"; error: ApiError | Error };

export function Detail({ id }: { id: string }) {
  const [state, setState] = useState<Loaded>(() => {
    const cached = cachedImage(id);
    return cached ? { status: "ready", image: cached } : { status: "loading" };
  });
  const [attempt, setAttempt] = useState(0);

  // Opening an image is a use (so are copying and downloading it): `sort:popular` learns what people reach for.
  useEffect(() => noteUse(id), [id]);

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

  // Opened images are what the offline screen shows first.
  useEffect(() => rememberRecent(image), [image.id]);

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
          <img class="under" src={thumbnailSrc(image)} alt="" width={image.width} height={image.height} />
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
              aria-label={image.tags.length ? `Video tagged ${image.tags.join(", ")}` : image.filename}
            />
          ) : (
            <img
              class="full"
              src={image.kind === "animated" && reducedMotion() ? thumbnailSrc(image) : image.file_url}
              onLoad={() => setShown(true)}
              width={image.width}
              height={image.height}
              alt={image.tags.length ? `Tagged ${image.tags.join(", ")}` : image.filename}
            />
          )}
        </div>
      </div>
      <aside class="panel">
        <h1 class="filename" title={image.filename}>
          {image.filename}
        </h1>
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
        </dl>
        <Actions image={image} />
      </aside>
    </article>
  );
}

/** Tags edited in place: every add or remove is saved at once (the API normalises; the UI shows the result). */
function TagEditor({ image, onChange }: { image: Image; onChange: (image: Image) => void }) {
  const [tags, setTags] = useState(image.tags);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const latest = useRef(0);
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => setTags(image.tags), [image]);

  function save(changed: string[]): void {
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
        onRemove={(tag) => {
          save(tags.filter((item) => item !== tag));
          inputRef.current?.focus();
        }}
      />
      <ImpliedTags tags={tags} />
      <TagInput
        id="tag-add"
        label="Add a tag"
        placeholder="Add a tag and press Enter"
        exclude={tags}
        inputRef={inputRef}
        busy={saving}
        onAdd={(added) => save([...tags, ...added])}
      />
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      {tags.length > 0 && (
        <p class="find-similar">
          <a href={libraryHref(tags.slice(0, 1))}>More tagged “{tags[0]}”</a>
        </p>
      )}
    </section>
  );
}

const CAPTION_POLL_MS = 1500;

/** The caption text read from the image (or set by hand), edited in place; polls while it is still being read. */
function CaptionEditor({ image, onChange }: { image: Image; onChange: (image: Image) => void }) {
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
          <button type="button" class="button" onClick={startEditing}>
            {image.text ? "Edit text" : "Add text"}
          </button>
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

/**
 * "Copy link" copies `file_url` made absolute (the CDN URL as it is, or the proxy path on this page's origin);
 * "Copy page link" copies the share page, which unfurls with the image in chat apps and opens this page. "Copy
 * image" puts a still's bytes on the clipboard as PNG (motion would be lost, so animations and videos copy their
 * link and say why).
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
      <div class="copy-row">
        <ShareButton image={image} onStatus={(text) => setStatus(text)} class="button primary" />
      </div>
      <CopyRow
        id="share-link"
        label="Link"
        button="Copy link"
        value={absoluteUrl(image.file_url)}
        onCopied={(how) => copied(how, "Link copied to the clipboard")}
      />
      <CopyRow
        id="share-page-link"
        label="Page link (unfurls in chat)"
        button="Copy page link"
        value={sharePageUrl(image.id)}
        onCopied={(how) => copied(how, "Page link copied to the clipboard")}
      />
      <div class="copy-row">
        <button
          type="button"
          class="button"
          onClick={() =>
            void copyImage(image).then(
              (text) => copied("clipboard", text),
              (err: unknown) => setStatus(`Could not copy: ${messageOf(err)}`),
            )
          }
          title={image.kind === "still" ? "Copy the picture itself (PNG)" : "Motion is lost on the clipboard: copies the link"}
        >
          Copy image
        </button>
        <kbd class="hint" aria-hidden="true">
          c
        </kbd>
      </div>
      <p class="copy-status" role="status">
        {status}
      </p>
    </section>
  );
}

function CopyRow(props: {
  id: string;
  label: string;
  button: string;
  value: string;
  onCopied: (how: "clipboard" | string) => void;
}) {
  const field = useRef<HTMLInputElement>(null);

  async function copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(props.value);
      props.onCopied("clipboard");
    } catch {
      // No clipboard access (e.g. plain HTTP on a LAN address): select the link so Ctrl+C copies it.
      field.current?.focus();
      field.current?.select();
      props.onCopied("Press Ctrl+C to copy the selected link");
    }
  }

  return (
    <>
      <label class="label" for={props.id}>
        {props.label}
      </label>
      <div class="copy-row">
        <input id={props.id} ref={field} class="link-field" type="text" readOnly value={props.value} />
        <button type="button" class="button primary" onClick={copy}>
          <svg viewBox="0 0 20 20" aria-hidden="true">
            <rect x="7" y="7" width="10" height="10" rx="2" />
            <path d="M13 7V5a2 2 0 0 0-2-2H5a2 2 0 0 0-2 2v6a2 2 0 0 0 2 2h2" />
          </svg>
          {props.button}
        </button>
      </div>
    </>
  );
}

function Actions({ image }: { image: Image }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);

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
    forgetOffline(image.id);
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

/** Record a use without ever bothering the person: a refused or failed count (no token, rate limit) is ignored. */
function noteUse(id: string): void {
  recordUse(id, currentToken()).catch(() => undefined);
}
