import { useState } from "preact/hooks";
import { completeSetup, messageOf } from "../api/client";
import { refreshAccount } from "../account";
import { navigate } from "../router";

/** First run: the server logged `/setup?code=…`; whoever has that code creates the first admin. */
export function Setup({ code: given }: { code: string }) {
  const [code, setCode] = useState(given);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event): Promise<void> {
    event.preventDefault();
    if (password !== again) {
      setError("The two passwords differ.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await completeSetup(code.trim(), username.trim(), password);
      await refreshAccount();
      navigate("/", { replace: true });
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }

  return (
    <div class="account-page">
      <h1 class="page-title">Set up reactbin</h1>
      <p class="muted">
        Create the first admin. The setup code is in the server's log (it stops working once an admin exists).
      </p>
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      <form class="account-form" onSubmit={(event) => void submit(event)}>
        <label for="setup-code">Setup code</label>
        <input id="setup-code" required maxLength={200} value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        <label for="setup-name">Admin user name</label>
        <input
          id="setup-name"
          autocomplete="username"
          required
          maxLength={32}
          pattern="[A-Za-z0-9_.\-]{1,32}"
          title="1-32 letters, digits, dots, dashes or underscores"
          value={username}
          onInput={(e) => setUsername(e.currentTarget.value)}
        />
        <label for="setup-password">Password (10 to 256 characters)</label>
        <input
          id="setup-password"
          type="password"
          autocomplete="new-password"
          required
          minLength={10}
          maxLength={256}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <label for="setup-again">Password again</label>
        <input
          id="setup-again"
          type="password"
          autocomplete="new-password"
          required
          minLength={10}
          maxLength={256}
          value={again}
          onInput={(e) => setAgain(e.currentTarget.value)}
        />
        <button type="submit" class="button primary" disabled={busy}>
          Create admin
        </button>
      </form>
    </div>
  );
}
