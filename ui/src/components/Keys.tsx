import { useEffect, useState } from "preact/hooks";
import { createKey, listKeys, messageOf, revokeKey, type ApiKey, type CreatedApiKey } from "../api/client";
import { formatDate } from "../format";
import { downloadShareXWithNewKey } from "../sharex";

/** The signed-in person's API keys: create (the key is shown once), see when each was last used, revoke. */
export function Keys() {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [copied, setCopied] = useState(false);
  const [name, setName] = useState("");
  const [scope, setScope] = useState<"full" | "upload">("full");
  const [status, setStatus] = useState<string | null>(null);

  async function reload(): Promise<void> {
    try {
      setKeys(await listKeys());
    } catch (err) {
      setError(messageOf(err));
    }
  }

  useEffect(() => {
    void reload();
  }, []);

  async function create(event: Event): Promise<void> {
    event.preventDefault();
    setError(null);
    try {
      setCreated(await createKey({ name: name.trim(), scope }));
      setCopied(false);
      setName("");
      await reload();
    } catch (err) {
      setError(messageOf(err));
    }
  }

  async function revoke(key: ApiKey): Promise<void> {
    setError(null);
    try {
      await revokeKey(key.id);
      if (created?.id === key.id) setCreated(null);
      await reload();
    } catch (err) {
      setError(messageOf(err));
    }
  }

  async function sharex(): Promise<void> {
    setError(null);
    try {
      const keyName = await downloadShareXWithNewKey();
      setStatus(`Downloaded, with a new upload-only key "${keyName}". Open it to add reactbin to ShareX.`);
      await reload();
    } catch (err) {
      setError(messageOf(err));
    }
  }

  return (
    <div class="account-page keys">
      <h1 class="page-title">API keys</h1>
      <p class="muted">
        A key acts as you: send it as <code>Authorization: Bearer rb_…</code>. An upload-only key may only upload
        images (what ShareX and <code>reactbin import --token</code> need).
      </p>
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      {created && (
        <section class="new-key" aria-labelledby="new-key-title">
          <h2 id="new-key-title">Key “{created.name}” created</h2>
          <p>Copy it now: it is not shown again.</p>
          <input class="link-field" readOnly value={created.key} aria-label="New API key" />
          <button
            type="button"
            class="button"
            onClick={() => void navigator.clipboard.writeText(created.key).then(() => setCopied(true))}
          >
            {copied ? "Copied" : "Copy key"}
          </button>
        </section>
      )}
      <form class="account-form inline" onSubmit={(event) => void create(event)}>
        <label for="key-name">Key name</label>
        <input id="key-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="key-scope">Scope</label>
        <select
          id="key-scope"
          value={scope}
          onChange={(e) => setScope(e.currentTarget.value === "upload" ? "upload" : "full")}
        >
          <option value="full">Full (acts as you)</option>
          <option value="upload">Upload only</option>
        </select>
        <button type="submit" class="button primary">
          Create key
        </button>
      </form>
      <p>
        <button type="button" class="button" onClick={() => void sharex()}>
          Download ShareX config (new upload key)
        </button>
      </p>
      {status && (
        <p class="muted" role="status">
          {status}
        </p>
      )}
      {keys && keys.length === 0 && <p class="muted">No keys yet.</p>}
      {keys && keys.length > 0 && (
        <table class="account-table" aria-label="Your API keys">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Scope</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>{key.scope === "upload" ? "Upload only" : "Full"}</td>
                <td>{formatDate(key.created_at)}</td>
                <td>{key.last_used_at ? formatDate(key.last_used_at) : "Never"}</td>
                <td>
                  <button
                    type="button"
                    class="button small ghost"
                    aria-label={`Revoke key ${key.name}`}
                    onClick={() => void revoke(key)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
