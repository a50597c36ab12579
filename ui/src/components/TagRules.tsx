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

/** Tag aliases (`kitty` means `cat`) and implications (`cat` implies `animal`): list, add, delete. */
export function TagRules() {
  const [aliases, setAliases] = useState<Alias[]>([]);
  const [implications, setImplications] = useState<Implication[]>([]);
  const [error, setError] = useState<string | null>(null);

  const reload = () =>
    Promise.all([listAliases(), listImplications()])
      .then(([a, i]) => {
        setAliases(a);
        setImplications(i);
      })
      .catch((err: unknown) => setError(messageOf(err)));
  useEffect(() => {
    void reload();
  }, []);

  async function run(write: (token: string | null) => Promise<unknown>): Promise<boolean> {
    setError(null);
    try {
      await withWriteToken(write);
    } catch (err) {
      setError(messageOf(err));
      return false;
    }
    forgetLibraries(); // tags of images may have been rewritten
    forgetImplications();
    await reload();
    return true;
  }

  return (
    <div class="tag-rules">
      <h1 class="page-title">Tag rules</h1>
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      <section aria-labelledby="aliases-title">
        <h2 id="aliases-title">Aliases</h2>
        <p class="muted">Tagging or searching the alias means the tag; images tagged with the alias are retagged.</p>
        <RuleForm
          idPrefix="alias"
          first="Alias"
          second="Means tag"
          submit="Add alias"
          onSubmit={(alias, tag) => run((token) => createAlias({ alias, tag }, token))}
        />
        <ul class="rules" aria-label="Aliases">
          {aliases.map((rule) => (
            <li key={rule.alias}>
              <span class="chip">{rule.alias}</span> → <span class="chip">{rule.tag}</span>
              <button
                type="button"
                class="button small ghost"
                aria-label={`Delete alias ${rule.alias}`}
                onClick={() => void run((token) => deleteAlias(rule.alias, token))}
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="implications-title">
        <h2 id="implications-title">Implications</h2>
        <p class="muted">Searching the implied tag also finds images with the first tag.</p>
        <RuleForm
          idPrefix="implication"
          first="Tag"
          second="Implies"
          submit="Add implication"
          onSubmit={(tag, implied) => run((token) => createImplication({ tag, implies: implied }, token))}
        />
        <ul class="rules" aria-label="Implications">
          {implications.map((rule) => (
            <li key={`${rule.tag}>${rule.implies}`}>
              <span class="chip">{rule.tag}</span> ⇒ <span class="chip">{rule.implies}</span>
              <button
                type="button"
                class="button small ghost"
                aria-label={`Delete implication ${rule.tag} implies ${rule.implies}`}
                onClick={() => void run((token) => deleteImplication(rule.tag, rule.implies, token))}
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

interface FormProps {
  idPrefix: string;
  first: string;
  second: string;
  submit: string;
  onSubmit: (first: string, second: string) => Promise<boolean>;
}

function RuleForm({ idPrefix, first, second, submit, onSubmit }: FormProps) {
  const [a, setA] = useState("");
  const [b, setB] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="rule-form"
      onSubmit={(event) => {
        event.preventDefault();
        setBusy(true);
        void onSubmit(normaliseTag(a), normaliseTag(b)).then((ok) => {
          setBusy(false);
          if (ok) {
            setA("");
            setB("");
          }
        });
      }}
    >
      <label for={`${idPrefix}-a`}>{first}</label>
      <input id={`${idPrefix}-a`} value={a} required maxLength={64} onInput={(e) => setA(e.currentTarget.value)} />
      <label for={`${idPrefix}-b`}>{second}</label>
      <input id={`${idPrefix}-b`} value={b} required maxLength={64} onInput={(e) => setB(e.currentTarget.value)} />
      <button type="submit" class="button primary" disabled={busy}>
        {submit}
      </button>
    </form>
  );
}
