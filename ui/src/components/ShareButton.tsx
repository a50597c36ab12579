import { useState } from "preact/hooks";
import type { Image } from "../api/client";
import { describe, shareImage } from "../share";

/** "Share": the original file through the system share sheet, or its link copied where files cannot be shared. */
export function ShareButton({
  image,
  onStatus,
  class: className = "button",
}: {
  image: Image;
  /** `pending`: the file is ready and waits for a second tap (the first one's permission ran out while fetching). */
  onStatus: (text: string, pending: boolean) => void;
  class?: string;
}) {
  const [ready, setReady] = useState<File | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  async function share(): Promise<void> {
    setBusy(true);
    try {
      const outcome = await shareImage(image, ready);
      setReady(outcome.kind === "again" ? outcome.file : undefined);
      onStatus(describe(outcome), outcome.kind === "again");
    } finally {
      setBusy(false);
    }
  }

  return (
    <button
      type="button"
      class={`${className} share-button`}
      aria-busy={busy ? true : undefined}
      disabled={busy}
      onClick={() => void share()}
      title="Send the file itself to another app (animations stay animated)"
    >
      <svg viewBox="0 0 20 20" aria-hidden="true">
        <path d="M10 3v10M6 7l4-4 4 4M4 11v4a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2v-4" />
      </svg>
      {busy ? "Preparing…" : ready ? "Share now" : "Share"}
    </button>
  );
}
