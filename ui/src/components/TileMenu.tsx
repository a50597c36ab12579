import { useEffect, useRef, useState } from "preact/hooks";
import { recordUse, type Image } from "../api/client";
import { currentToken } from "../auth";
import { copyImage } from "../media";
import { rememberRecent } from "../offline";
import { ShareButton } from "./ShareButton";

/** A tile's "⋯" menu: Share (the file, through the system share sheet) and Copy, without opening the image. */
export function TileMenu({ image, onStatus }: { image: Image; onStatus: (text: string) => void }) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    const close = (event: Event) => {
      if (event instanceof KeyboardEvent) {
        if (event.key !== "Escape") return;
        toggle.current?.focus();
      } else if (root.current?.contains(event.target as Node)) return;
      setOpen(false);
    };
    document.addEventListener("keydown", close);
    document.addEventListener("pointerdown", close);
    return () => {
      document.removeEventListener("keydown", close);
      document.removeEventListener("pointerdown", close);
    };
  }, [open]);

  const done = (text: string, pending = false) => {
    if (!pending) setOpen(false);
    onStatus(text);
  };

  const copy = () =>
    copyImage(image).then(
      (text) => {
        rememberRecent(image);
        recordUse(image.id, currentToken()).catch(() => undefined);
        done(text);
      },
      (err: unknown) => done(`Could not copy: ${String(err)}`),
    );

  return (
    <div class="tile-menu" ref={root}>
      <button
        ref={toggle}
        type="button"
        class="tile-menu-toggle"
        aria-label={`Share or copy ${image.filename}`}
        aria-expanded={open}
        aria-haspopup="true"
        onClick={() => setOpen(!open)}
      >
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <circle cx="5" cy="10" r="1.6" />
          <circle cx="10" cy="10" r="1.6" />
          <circle cx="15" cy="10" r="1.6" />
        </svg>
      </button>
      {open && (
        <div class="tile-menu-items">
          <ShareButton image={image} onStatus={done} class="tile-menu-item" />
          <button
            type="button"
            class="tile-menu-item"
            onClick={() => void copy()}
          >
            Copy
          </button>
        </div>
      )}
    </div>
  );
}
