// Who is using the UI, and what they may do: loaded once at start (`/sign-in` and `/me`), refreshed after signing
// in or out. Controls a role cannot use are not shown; the server still decides every request.
import { useEffect, useState } from "preact/hooks";
import { setCsrfToken, signInOptions, whoAmI, type Image, type Me, type SignInOptions } from "./api/client";
import { currentToken } from "./auth";

export interface Account {
  loaded: boolean;
  me: Me | null;
  options: SignInOptions | null;
}

let account: Account = { loaded: false, me: null, options: null };
const listeners = new Set<(account: Account) => void>();

function publish(next: Account): void {
  account = next;
  setCsrfToken(next.me?.csrf_token ?? null);
  for (const listener of listeners) listener(account);
}

/** Ask the server again who this browser is (after signing in or out, or at start). */
export async function refreshAccount(): Promise<Account> {
  try {
    const [options, me] = await Promise.all([signInOptions(), whoAmI(currentToken())]);
    publish({ loaded: true, me, options });
  } catch {
    // Unreachable server: keep what we knew; every request will say what went wrong.
    publish({ ...account, loaded: true });
  }
  return account;
}

export function signedOut(): void {
  publish({ ...account, me: null });
  void refreshAccount();
}

export function currentAccount(): Account {
  return account;
}

export function useAccount(): Account {
  const [value, setValue] = useState(account);
  useEffect(() => {
    listeners.add(setValue);
    setValue(account);
    return () => listeners.delete(setValue);
  }, []);
  return value;
}

/**
 * Anonymous on a library without an admin but with API_TOKENS: the older token flow (writes ask for the token), so
 * controls stay visible. Anonymous on a library with users: sign in first.
 */
function legacyTokens(a: Account): boolean {
  return a.me === null && (a.options?.setup_needed ?? true);
}

function role(a: Account): string | null {
  return a.me?.role ?? null;
}

/** Upload, tag, caption. */
export function canWrite(a: Account): boolean {
  return legacyTokens(a) || role(a) === "admin" || role(a) === "member";
}

export function canDelete(a: Account, image: Image): boolean {
  if (legacyTokens(a) || role(a) === "admin") return true;
  return role(a) === "member" && image.uploaded_by !== null && image.uploaded_by.id === a.me?.id;
}

export function isAdmin(a: Account): boolean {
  return legacyTokens(a) || role(a) === "admin";
}

/** Favourites and API keys belong to a person: a signed-in user (not the open library, not a token). */
export function isPerson(a: Account): boolean {
  return a.me !== null && a.me.id !== null;
}

/** The library has users (or tokens) and this browser is nobody yet. */
export function needsSignIn(a: Account): boolean {
  return a.loaded && a.me === null && !(a.options?.setup_needed ?? true);
}
