import type { ComponentChildren } from "preact";

interface Props {
  kind: "empty" | "error" | "loading";
  title: string;
  children?: ComponentChildren;
}

/** The empty, loading and error states: say what happened and what to do next. */
export function Notice({ kind, title, children }: Props) {
  return (
    <section
      class={`notice notice-${kind}`}
      role={kind === "error" ? "alert" : "status"}
      aria-busy={kind === "loading" ? true : undefined}
    >
      {kind === "loading" ? <span class="spinner" aria-hidden="true" /> : <NoticeIcon kind={kind} />}
      <h2>{title}</h2>
      {children}
    </section>
  );
}

function NoticeIcon({ kind }: { kind: "empty" | "error" }) {
  return (
    <svg class="notice-icon" viewBox="0 0 48 48" aria-hidden="true">
      {kind === "empty" ? (
        <>
          <rect x="7" y="9" width="34" height="30" rx="5" />
          <circle cx="18" cy="20" r="3.5" />
          <path d="M9 35l10-10 7 7 5-5 9 9" />
        </>
      ) : (
        <>
          <circle cx="24" cy="24" r="17" />
          <path d="M24 15v11M24 32v1" />
        </>
      )}
    </svg>
  );
}
