import { useState } from "preact/hooks";
import { messageOf, signIn } from "../api/client";
import { refreshAccount, useAccount } from "../account";
import { navigate } from "../router";
import { forgetLibraries } from "../store";

/** Password sign-in, and "Sign in with …" when the server has an OpenID provider. */
export function SignIn() {
  const account = useAccount();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const oidc = account.options?.oidc ?? null;

  async function submit(event: Event): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username.trim(), password);
      forgetLibraries(); // favourites and private reads differ per person
      await refreshAccount();
      navigate("/", { replace: true });
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }

  return (
    <div class="account-page">
      <h1 class="page-title">Sign in</h1>
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      <form class="account-form" onSubmit={(event) => void submit(event)}>
        <label for="signin-name">User name</label>
        <input
          id="signin-name"
          autocomplete="username"
          required
          maxLength={32}
          value={username}
          onInput={(e) => setUsername(e.currentTarget.value)}
        />
        <label for="signin-password">Password</label>
        <input
          id="signin-password"
          type="password"
          autocomplete="current-password"
          required
          maxLength={256}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <button type="submit" class="button primary" disabled={busy}>
          Sign in
        </button>
      </form>
      {oidc && (
        <p class="account-alt">
          {/* A full page load: the provider's pages are not part of this app. */}
          <a class="button" href={oidc.login_url}>
            Sign in with {oidc.name}
          </a>
        </p>
      )}
    </div>
  );
}
