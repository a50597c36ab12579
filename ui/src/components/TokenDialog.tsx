import { useEffect, useRef, useState } from "preact/hooks";
import { setTokenAsker } from "../auth";

/** Asks for a write token when the server refuses a write with 401 (servers started with API_TOKENS). */
export function TokenDialog() {
  const dialog = useRef<HTMLDialogElement>(null);
  const resolve = useRef<((token: string | null) => void) | null>(null);
  const [rejected, setRejected] = useState(false);
  const [value, setValue] = useState("");

  useEffect(() => {
    setTokenAsker(
      (wasRejected) =>
        new Promise((done) => {
          resolve.current = done;
          setRejected(wasRejected);
          setValue("");
          dialog.current?.showModal();
        }),
    );
    return () => setTokenAsker(null);
  }, []);

  function finish(token: string | null): void {
    const done = resolve.current;
    resolve.current = null;
    if (dialog.current?.open) dialog.current.close();
    done?.(token);
  }

  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="token-title" onClose={() => finish(null)}>
      <h2 id="token-title">Write token needed</h2>
      <p>
        {rejected
          ? "That token was not accepted. Check it and try again."
          : "This server accepts uploads and changes only with a write token. Ask whoever runs it for one."}
      </p>
      <form
        class="token-form"
        onSubmit={(event) => {
          event.preventDefault();
          finish(value.trim() || null);
        }}
      >
        <label for="write-token" class="label">
          Write token
        </label>
        <input
          id="write-token"
          type="password"
          autoComplete="off"
          required
          autofocus
          value={value}
          onInput={(event) => setValue(event.currentTarget.value)}
        />
        <p class="muted small">It is kept in this browser for next time.</p>
        <div class="dialog-buttons">
          <button type="button" class="button" onClick={() => finish(null)}>
            Cancel
          </button>
          <button type="submit" class="button primary">
            Save and retry
          </button>
        </div>
      </form>
    </dialog>
  );
}
