import { useEffect, useRef, useState } from "preact/hooks";
import { getShareXConfig, uploadImage, messageOf, ApiError, type UploadedImage } from "../api/client";
import { currentAccount, isPerson } from "../account";
import { currentToken, withWriteToken } from "../auth";
import { downloadShareXWithNewKey } from "../sharex";
import { formatBytes, plural } from "../format";
import { detailHref } from "../router";
import { forgetLibraries, receiveFiles, rememberImage } from "../store";
import { MAX_TAGS, parseTagList, tagProblem } from "../tags";
import { ACCEPTED_NAMES, ACCEPT_ATTRIBUTE, NOT_ACCEPTED, looksAccepted } from "../filetypes";
import { thumbnailSrc } from "../urls";
import { Chips } from "./Chips";
import { LooksLikeOne } from "./Similar";
import { SuggestedTags } from "./SuggestedTags";

const PARALLEL = 3;

/** The API's reasons, said briefly (its `detail` stays for what is not listed here). */
function rejection(err: unknown): string {
  if (!(err instanceof ApiError)) return `Upload failed: ${messageOf(err)}`;
  switch (err.code) {
    case "unsupported_media_type":
      return NOT_ACCEPTED;
    case "file_too_large":
    case "request_too_large":
      return "Too big to upload here.";
    case "invalid_image":
    case "invalid_video":
    case "empty_file":
      return "Damaged or incomplete: it could not be read.";
    case "image_too_large":
      return "Too many pixels for this library.";
    default:
      return err.message;
  }
}

type Status = "checking" | "queued" | "uploading" | "processing" | "done" | "duplicate" | "failed";

interface Item {
  key: number;
  file: File;
  tags: string;
  status: Status;
  progress: number;
  image?: UploadedImage;
  error?: string;
}

let nextKey = 1;

export function Upload() {
  const [tagField, setTagField] = useState("");
  const [items, setItems] = useState<Item[]>([]);
  const [dragging, setDragging] = useState(false);
  const picker = useRef<HTMLInputElement>(null);
  const running = useRef(0);

  const [refused, setRefused] = useState<string | null>(null);
  const tags = parseTagList(tagField);
  const tagError = tags.map(tagProblem).find(Boolean) ?? (tags.length > MAX_TAGS ? `At most ${MAX_TAGS} tags` : null);
  const batch = useRef({ tags, tagError });
  batch.current = { tags, tagError };

  const update = (key: number, change: Partial<Item>) =>
    setItems((list) => list.map((item) => (item.key === key ? { ...item, ...change } : item)));

  function add(files: File[]): void {
    if (files.length === 0) return;
    // The batch's tags are fixed when files are added; later edits of the field apply to later files.
    const { tags: current, tagError: problem } = batch.current;
    if (problem) {
      setRefused(`Not uploaded: fix the tags first (${problem}).`);
      return;
    }
    setRefused(null);
    const joined = current.join(",");
    const added = files.map((file) => ({ key: nextKey++, file, tags: joined, status: "checking" as const, progress: 0 }));
    setItems((list) => [...added, ...list]);
    // A file that is surely not accepted is refused here, without sending its bytes.
    for (const item of added) {
      looksAccepted(item.file).then(
        (ok) => update(item.key, ok ? { status: "queued" } : { status: "failed", error: NOT_ACCEPTED }),
        () => update(item.key, { status: "failed", error: "This file could not be read." }),
      );
    }
  }

  // Start queued uploads, a few at a time.
  useEffect(() => {
    const queued = items.filter((item) => item.status === "queued").reverse();
    for (const item of queued.slice(0, Math.max(0, PARALLEL - running.current))) {
      running.current += 1;
      update(item.key, { status: "uploading" });
      withWriteToken((token) =>
        uploadImage(item.file, item.tags, token, (sent, total) =>
          update(item.key, { progress: sent / total, status: sent >= total ? "processing" : "uploading" }),
        ),
      )
        .then((image) => {
          rememberImage(image);
          forgetLibraries();
          update(item.key, { status: image.duplicate ? "duplicate" : "done", image, progress: 1 });
        })
        .catch((err: unknown) => update(item.key, { status: "failed", error: rejection(err) }))
        .finally(() => {
          running.current -= 1;
          setItems((list) => [...list]); // wake the queue
        });
    }
  }, [items]);

  // Drops land on the window (App hands them over), so the whole page is a drop target.
  useEffect(() => receiveFiles(add), []);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (event: DragEvent) => event.dataTransfer?.types.includes("Files") ?? false;
    const enter = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      depth += 1;
      setDragging(true);
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const drop = () => {
      depth = 0;
      setDragging(false);
    };
    window.addEventListener("dragenter", enter);
    window.addEventListener("dragleave", leave);
    window.addEventListener("drop", drop);
    return () => {
      window.removeEventListener("dragenter", enter);
      window.removeEventListener("dragleave", leave);
      window.removeEventListener("drop", drop);
    };
  }, []);

  const done = items.filter((item) => item.status === "done").length;
  const duplicates = items.filter((item) => item.status === "duplicate").length;
  const failed = items.filter((item) => item.status === "failed").length;
  const active = items.length - done - duplicates - failed;

  return (
    <div class="upload-page">
      <h1 class="page-title">Upload images</h1>
      <div class="upload-form">
        <div class="field">
          <label for="upload-tags" class="label">
            Tags for this batch <span class="muted">(optional, comma-separated)</span>
          </label>
          <input
            id="upload-tags"
            name="tags"
            type="text"
            autoComplete="off"
            autoCapitalize="none"
            placeholder="e.g. cat, happy, thumbs up"
            value={tagField}
            aria-invalid={tagError ? true : undefined}
            aria-describedby="upload-tags-help"
            onInput={(event) => setTagField(event.currentTarget.value)}
          />
          <div id="upload-tags-help" class="help">
            {tagError ? (
              <p class="field-error">{tagError}</p>
            ) : tags.length ? (
              <div class="tag-preview">
                <span class="muted">Files you add next get:</span>
                <Chips tags={tags} label="Tags for the next files" />
              </div>
            ) : (
              <p class="muted">Tags apply to every file you add next.</p>
            )}
          </div>
        </div>
        <div class={`dropzone${dragging ? " dragging" : ""}${tagError ? " disabled" : ""}`}>
          <svg viewBox="0 0 48 48" aria-hidden="true" class="dropzone-icon">
            <path d="M24 31V11M16 19l8-8 8 8" />
            <path d="M9 29v6a4 4 0 0 0 4 4h22a4 4 0 0 0 4-4v-6" />
          </svg>
          <p class="dropzone-title">
            <span class="pointer-only">{dragging ? "Drop to upload" : "Drop images here"}</span>
            <span class="touch-only">Add images and videos</span>
          </p>
          <p class="muted">{ACCEPTED_NAMES} · several at once</p>
          <button type="button" class="button primary" disabled={!!tagError} onClick={() => picker.current?.click()}>
            Choose files…
          </button>
          <input
            ref={picker}
            id="upload-files"
            type="file"
            name="file"
            accept={ACCEPT_ATTRIBUTE}
            multiple
            hidden
            onChange={(event) => {
              add([...(event.currentTarget.files ?? [])]);
              event.currentTarget.value = "";
            }}
          />
        </div>
        {refused && (
          <p class="field-error" role="alert">
            {refused}
          </p>
        )}
        {/* Keyboards and ShareX are for computers: phones share into reactbin or pick files instead. */}
        <p class="muted paste-hint pointer-only">Tip: paste images with Ctrl+V anywhere in reactbin to upload them.</p>
        <ShareXSetup />
      </div>

      {items.length > 0 && (
        <section class="queue" aria-labelledby="queue-heading">
          <h2 id="queue-heading" class="queue-summary" aria-live="polite">
            {active > 0 ? `Uploading ${plural(active, "file")}…` : "Finished"}
            <span class="muted">
              {[
                done && `${done} uploaded`,
                duplicates && plural(duplicates, "duplicate"),
                failed && `${failed} failed`,
              ]
                .filter(Boolean)
                .join(" · ")}
            </span>
          </h2>
          <ul class="queue-list">
            {items.map((item) => (
              <QueueItem key={item.key} item={item} />
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

/** A ShareX custom-uploader config from the server, with the write token this browser holds filled in. */
function ShareXSetup() {
  const [status, setStatus] = useState<string | null>(null);

  async function download(): Promise<void> {
    setStatus(null);
    try {
      if (isPerson(currentAccount())) {
        // Signed in: a fresh upload-only key of this person goes into the config (revocable on the keys page).
        const name = await downloadShareXWithNewKey();
        setStatus(`Downloaded, with a new upload-only key "${name}". Open it to add reactbin to ShareX.`);
        return;
      }
      const config = await getShareXConfig();
      const token = currentToken();
      if (config.Headers && token) config.Headers = { ...config.Headers, Authorization: `Bearer ${token}` };
      const blob = new Blob([JSON.stringify(config, null, 2)], { type: "application/json" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "reactbin.sxcu";
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      setStatus(
        config.Headers && !token
          ? "Downloaded. This server needs a write token: put yours into the Authorization header in ShareX."
          : "Downloaded. Open it to add reactbin to ShareX's custom uploaders.",
      );
    } catch (err) {
      setStatus(`Could not get the ShareX config: ${messageOf(err)}`);
    }
  }

  return (
    <div class="sharex pointer-only">
      <p class="muted">
        Upload screenshots straight from ShareX:{" "}
        <button type="button" class="button" onClick={() => void download()}>
          Download ShareX config
        </button>
      </p>
      {status && (
        <p class="muted" role="status">
          {status}
        </p>
      )}
    </div>
  );
}

function QueueItem({ item }: { item: Item }) {
  const { file, status, image } = item;
  const percent = Math.round(100 * item.progress);
  const finished = status === "done" || status === "duplicate";
  return (
    <li class={`queue-item ${status}`} data-status={status}>
      <div class="queue-thumb">
        {image ? (
          <img src={thumbnailSrc(image)} width={image.width} height={image.height} alt="" />
        ) : (
          <span class="file-badge" aria-hidden="true">
            {file.name.split(".").pop()?.slice(0, 4) || "?"}
          </span>
        )}
      </div>
      <div class="queue-body">
        <p class="queue-name">
          {finished && image ? <a href={detailHref(image.id)}>{file.name}</a> : <span>{file.name}</span>}
          <span class="muted">{formatBytes(file.size)}</span>
        </p>
        {(status === "checking" || status === "queued" || status === "uploading" || status === "processing") && (
          <>
            <progress
              max={100}
              value={status === "queued" || status === "checking" ? 0 : status === "processing" ? 100 : percent}
              aria-label={`Uploading ${file.name}`}
            />
            <p class="queue-status">
              {status === "queued" || status === "checking"
                ? "Waiting…"
                : status === "processing"
                  ? "Processing…"
                  : `${percent}%`}
            </p>
          </>
        )}
        {status === "done" && image && (
          <>
            <p class="queue-status ok">
              Uploaded{image.tags.length ? ` · tagged ${image.tags.join(", ")}` : ""}
            </p>
            <LooksLikeOne image={image} />
            <SuggestedTags image={image} />
          </>
        )}
        {status === "duplicate" && image && (
          <p class="queue-status duplicate" role="status">
            Already in your library — <a href={detailHref(image.id)}>view the existing image</a>
            {item.tags && " (tags added to it)"}
          </p>
        )}
        {status === "failed" && (
          <p class="queue-status failed" role="alert">
            {item.error}
          </p>
        )}
      </div>
    </li>
  );
}
