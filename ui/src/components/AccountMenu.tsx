import { useEffect, useRef, useState } from "preact/hooks";
import { messageOf, signOut } from "../api/client";
import { isAdmin, isPerson, needsSignIn, signedOut, useAccount } from "../account";
import { libraryHref, navigate } from "../router";
import { forgetLibraries } from "../store";

/** The top bar's account corner: "Sign in", or the person's name with their pages and "Sign out". */
export function AccountMenu() {
  const account = useAccount();
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const close = (event: Event) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    const escape = (event: KeyboardEvent) => {
      if (event.key === "Escape") setOpen(false);
    };
    document.addEventListener("click", close);
    document.addEventListener("keydown", escape);
    return () => {
      document.removeEventListener("click", close);
      document.removeEventListener("keydown", escape);
    };
  }, [open]);

  if (needsSignIn(account)) {
    return (
      <a class="button account-link" href="/signin">
        Sign in
      </a>
    );
  }
  const me = account.me;
  if (!me || me.auth === "open" || !isPerson(account)) return null;

  async function leave(): Promise<void> {
    try {
      await signOut();
    } catch (err) {
      setError(messageOf(err));
      return;
    }
    forgetLibraries();
    signedOut();
    setOpen(false);
    navigate("/");
  }

  return (
    <div class="account-menu" ref={root}>
      <button
        type="button"
        class="button account-button"
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        {me.name}
      </button>
      {open && (
        <ul class="account-items" role="menu" aria-label="Account">
          <li role="none">
            <a role="menuitem" href={libraryHref([], "is:fav")} onClick={() => setOpen(false)}>
              Favourites
            </a>
          </li>
          <li role="none">
            <a role="menuitem" href="/keys" onClick={() => setOpen(false)}>
              API keys
            </a>
          </li>
          {isAdmin(account) && (
            <li role="none">
              <a role="menuitem" href="/users" onClick={() => setOpen(false)}>
                Users
              </a>
            </li>
          )}
          <li role="none">
            <button type="button" role="menuitem" onClick={() => void leave()}>
              Sign out
            </button>
          </li>
        </ul>
      )}
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
