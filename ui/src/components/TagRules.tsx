import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  createAlias,
  createImplication,
  deleteAlias,
  deleteImplication,
  listAliases,
  listImplications,
  messageOf,
  type Alias,
  type Implication,
} from "../api/client";
import { withWriteToken } from "../auth";
import { forgetLibraries } from "../store";
import { normaliseTag } from "../tags";
import { forgetImplications } from "./ImpliedTags";
import { TagField } from "./TagInput";
import { Views } from "./Views";

type Write = (token: string | null) => Promise<unknown>;

/** Tag aliases (`kitty` means `cat`) and implications (`cat` implies `animal`): list, add, delete. */
export function TagRules() {
  const [aliases, setAliases] = useState<Alias[]>([]);
  const [implications, setImplications] = useState<Implication[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);

  const reload = () =>
    Promise.all([listAliases(), listImplications()])
      .then(([a, i]) => {
        setAliases(a);
        setImplications(i);
        setLoadError(null);
      })
      .catch((err: unknown) => setLoadError(messageOf(err)));
  useEffect(() => {
    void reload();
  }, []);

  /** Run a write; the error message (null when it worked) goes to the section that asked. */
  async function run(write: Write): Promise<string | null> {
    try {
      await withWriteToken(write);
    } catch (err) {
      return messageOf(err);
    }
    forgetLibraries(); // tags of images may have been rewritten
    forgetImplications();
    await reload();
    return null;
  }

  return (
    <div class="tag-rules">
      <Views current="rules" />
      <h1 class="page-title">Tag rules</h1>
      {loadError && (
        <p class="field-error" role="alert">
          {loadError}
        </p>
      )}
      <RuleSection
        id="aliases"
        title="Aliases"
        help={
          <>
            Tagging or searching the alias means the tag, and images tagged with the alias are retagged. For
            example, <strong>kitty</strong> → <strong>cat</strong>, or a common misspelling → the right tag.
          </>
        }
        first={{ label: "Alias", placeholder: "e.g. kitty" }}
        second={{ label: "Means tag", placeholder: "e.g. cat" }}
        submit="Add alias"
        onSubmit={(alias, tag) => run((token) => createAlias({ alias, tag }, token))}
        rules={aliases.map((rule) => ({
          key: rule.alias,
          from: rule.alias,
          arrow: "→",
          to: rule.tag,
          deleteLabel: `Delete alias ${rule.alias}`,
          remove: () => run((token) => deleteAlias(rule.alias, token)),
        }))}
      />
      <RuleSection
        id="implications"
        title="Implications"
        help={
          <>
            Searching the implied tag also finds images with the first tag. For example, <strong>cat</strong> ⇒{" "}
            <strong>animal</strong>: searching “animal” finds every cat.
          </>
        }
        first={{ label: "Tag", placeholder: "e.g. cat" }}
        second={{ label: "Implies", placeholder: "e.g. animal" }}
        submit="Add implication"
        onSubmit={(tag, implied) => run((token) => createImplication({ tag, implies: implied }, token))}
        rules={implications.map((rule) => ({
          key: `${rule.tag}>${rule.implies}`,
          from: rule.tag,
          arrow: "⇒",
          to: rule.implies,
          deleteLabel: `Delete implication ${rule.tag} implies ${rule.implies}`,
          remove: () => run((token) => deleteImplication(rule.tag, rule.implies, token)),
        }))}
      />
    </div>
  );
}

interface Rule {
  key: string;
  from: string;
  arrow: string;
  to: string;
  deleteLabel: string;
  remove: () => Promise<string | null>;
}

interface SectionProps {
  id: string;
  title: string;
  help: ComponentChildren;
  first: { label: string; placeholder: string };
  second: { label: string; placeholder: string };
  submit: string;
  onSubmit: (first: string, second: string) => Promise<string | null>;
  rules: Rule[];
}

/** One kind of rule: what it does with an example, the form (its errors next to it) and the rules there are. */
function RuleSection({ id, title, help, first, second, submit, onSubmit, rules }: SectionProps) {
  const [a, setA] = useState("");
  const [b, setB] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const errorId = `${id}-error`;

  return (
    <section aria-labelledby={`${id}-title`} class="rule-section">
      <h2 id={`${id}-title`}>{title}</h2>
      <p class="muted">{help}</p>
      <form
        class="rule-form"
        aria-describedby={error ? errorId : undefined}
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          void onSubmit(normaliseTag(a), normaliseTag(b)).then((problem) => {
            setBusy(false);
            setError(problem);
            if (!problem) {
              setA("");
              setB("");
            }
          });
        }}
      >
        <TagField id={`${id}-a`} label={first.label} placeholder={first.placeholder} value={a} onValue={setA} />
        <TagField id={`${id}-b`} label={second.label} placeholder={second.placeholder} value={b} onValue={setB} />
        <button type="submit" class="button primary" disabled={busy}>
          {submit}
        </button>
      </form>
      {error && (
        <p id={errorId} class="field-error" role="alert">
          {error}
        </p>
      )}
      {rules.length === 0 && <p class="muted">None yet.</p>}
      <ul class="rules" aria-label={title}>
        {rules.map((rule) => (
          <li key={rule.key}>
            <span class="chip">{rule.from}</span>
            <span aria-hidden="true">{rule.arrow}</span>
            <span class="visually-hidden">{rule.arrow === "→" ? "means" : "implies"}</span>
            <span class="chip">{rule.to}</span>
            <button
              type="button"
              class="button small ghost"
              aria-label={rule.deleteLabel}
              onClick={() => void rule.remove().then(setError)}
            >
              Delete
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
