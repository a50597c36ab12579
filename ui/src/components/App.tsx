import { useEffect, useRef } from "preact/hooks";
import { navigate, useRoute, type Route } from "../router";
import { handOverFiles } from "../store";
import { Detail } from "./Detail";
import { Library } from "./Library";
import { Notice } from "./Notice";
import { Offline } from "./Offline";
import { refreshPopular } from "../offline";
import { useOnline } from "../pwa";
import { SearchBar } from "./SearchBar";
import { TagRules } from "./TagRules";
import { TokenDialog } from "./TokenDialog";
import { Upload } from "./Upload";
import { canWrite, isPerson, useAccount } from "../account";
import { AccountMenu } from "./AccountMenu";
import { Keys } from "./Keys";
import { Setup } from "./Setup";
import { SignIn } from "./SignIn";
import { Users } from "./Users";

function SignInFirst() {
  return (
    <Notice kind="error" title="Sign in first">
      <p>This page belongs to a signed-in person.</p>
      <a class="button" href="/signin">
        Sign in
      </a>
    </Notice>
  );
}

/** The page title of a view; an image's page names itself once it has loaded (Detail). */
function titleOf(route: Route): string | null {
  switch (route.view) {
    case "library":
      if (route.q === "sort:popular" && route.tags.length === 0) return "Most used · reactbin";
      if (route.q) return `“${route.q}” · Search · reactbin`;
      if (route.tags.length) return `Tagged ${route.tags.join(", ")} · reactbin`;
      return "Library · reactbin";
    case "rules":
      return "Tag rules · reactbin";
    case "detail":
      return null;
    case "upload":
      return "Upload · reactbin";
    case "signin":
      return "Sign in · reactbin";
    case "setup":
      return "Set up · reactbin";
    case "keys":
      return "API keys · reactbin";
    case "users":
      return "Users · reactbin";
    case "missing":
      return "Not found · reactbin";
  }
}

/** Screenshots arrive from the clipboard as "image.png": give them a name that says when they were pasted. */
function pastedName(file: File): File {
  const generic = /^image\.(\w+)$/.exec(file.name);
  if (!generic) return file;
  const stamp = new Date().toISOString().slice(0, 19).replace("T", "-").replaceAll(":", "");
  return new File([file], `pasted-${stamp}.${generic[1]}`, { type: file.type, lastModified: file.lastModified });
}

function isTyping(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || target.matches("input, textarea, select, [role=combobox]"))
  );
}

export function App() {
  const route = useRoute();
  const account = useAccount();
  const searchRef = useRef<HTMLInputElement>(null);
  const mainRef = useRef<HTMLElement>(null);
  const previous = useRef<Route>(route);
  const online = useOnline();

  // The most used reactions are kept on this device for the offline screen: fetched once the page is idle, so the
  // request never competes with the first page of thumbnails.
  useEffect(() => {
    if (!online) return;
    const idle = window.requestIdleCallback ?? ((run: () => void) => window.setTimeout(run, 2000));
    const cancel = window.cancelIdleCallback ?? window.clearTimeout;
    const handle = idle(() => refreshPopular(), { timeout: 5000 });
    return () => cancel(handle);
  }, [online]);

  // "/" focuses the search from anywhere except while typing.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      event.preventDefault();
      searchRef.current?.focus();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  // Files dropped anywhere go to the upload page (instead of the browser opening them).
  useEffect(() => {
    const hasFiles = (event: DragEvent) => event.dataTransfer?.types.includes("Files") ?? false;
    const onDragOver = (event: DragEvent) => {
      if (hasFiles(event)) event.preventDefault();
    };
    const onDrop = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      const files = [...(event.dataTransfer?.files ?? [])];
      navigate("/upload");
      handOverFiles(files);
    };
    window.addEventListener("dragover", onDragOver);
    window.addEventListener("drop", onDrop);
    return () => {
      window.removeEventListener("dragover", onDragOver);
      window.removeEventListener("drop", onDrop);
    };
  }, []);

  // Ctrl+V with images (or several files) on the clipboard uploads them, from any view. Text pastes are left alone.
  useEffect(() => {
    const onPaste = (event: ClipboardEvent) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      event.preventDefault();
      navigate("/upload");
      handOverFiles(files.map(pastedName));
    };
    document.addEventListener("paste", onPaste);
    return () => document.removeEventListener("paste", onPaste);
  }, []);

  useEffect(() => {
    const title = titleOf(route);
    if (title !== null) document.title = title;
  }, [route]);

  // A new view moves keyboard focus to the page content (a search that only changes tags keeps it in the box).
  useEffect(() => {
    const before = previous.current;
    previous.current = route;
    if (before === route || before.view === route.view) return;
    if (route.view === "library" && before.view === "detail") return; // the library refocuses the tile
    mainRef.current?.focus({ preventScroll: true });
  }, [route]);

  let view;
  switch (route.view) {
    case "library":
      view = !online ? (
        <Offline />
      ) : (
        <Library
          key="library"
          tags={route.tags}
          q={route.q}
          focusId={previous.current.view === "detail" ? previous.current.id : null}
        />
      );
      break;
    case "detail":
      view = <Detail key={route.id} id={route.id} />;
      break;
    case "upload":
      view = <Upload />;
      break;
    case "rules":
      view = <TagRules />;
      break;
    case "signin":
      view = <SignIn />;
      break;
    case "setup":
      view = <Setup code={route.code} />;
      break;
    case "keys":
      view = isPerson(account) ? <Keys /> : <SignInFirst />;
      break;
    case "users":
      view = account.me?.role === "admin" ? <Users /> : <SignInFirst />;
      break;
    case "missing":
      view = (
        <Notice kind="error" title="Page not found">
          <p>There is nothing at this address.</p>
          <a class="button" href="/">
            Go to the library
          </a>
        </Notice>
      );
  }

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <div class="topbar-inner">
          <a class="brand" href="/" aria-label="reactbin, all images">
            <Logo />
            <span>reactbin</span>
          </a>
          <SearchBar
            tags={route.view === "library" ? route.tags : []}
            q={route.view === "library" ? route.q : ""}
            inputRef={searchRef}
          />
          {canWrite(account) && (
            <a class={`button primary upload-link${route.view === "upload" ? " current" : ""}`} href="/upload">
              <svg viewBox="0 0 20 20" aria-hidden="true">
                <path d="M10 14V4M6 8l4-4 4 4M4 16h12" />
              </svg>
              <span>Upload</span>
            </a>
          )}
          <AccountMenu />
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        {view}
      </main>
      <TokenDialog />
    </>
  );
}

function Logo() {
  return (
    <svg class="logo" viewBox="0 0 32 32" aria-hidden="true">
      <rect x="1" y="1" width="30" height="30" rx="9" class="logo-bg" />
      <circle cx="11.5" cy="13" r="2.2" class="logo-fg" />
      <circle cx="20.5" cy="13" r="2.2" class="logo-fg" />
      <path d="M9.5 19.5c3.5 4 9.5 4 13 0" class="logo-smile" />
    </svg>
  );
}
