// Write tokens: a server with API_TOKENS answers writes without `Authorization: Bearer <token>` with 401.
// The UI then asks the person once (a dialog), keeps the token in this browser and retries the write.
import { ApiError } from "./api/client";

const KEY = "reactbin.writeToken";
type Asker = (rejected: boolean) => Promise<string | null>;

let token: string | null = readStored();
let asker: Asker | null = null;
let pending: Promise<string | null> | null = null;

function readStored(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the token lives for this page only
  }
}

/** The write token this browser holds, if any (e.g. to fill into a ShareX config, or to record a use quietly). */
export function currentToken(): string | null {
  return token;
}

/** The component that shows the token dialog registers here. */
export function setTokenAsker(ask: Asker | null): void {
  asker = ask;
}

function askOnce(rejected: boolean): Promise<string | null> {
  // Several uploads failing together share one dialog.
  pending ??= (asker ? asker(rejected) : Promise.resolve(null)).finally(() => {
    pending = null;
  });
  return pending;
}

/** Run a write with the current token; on 401, ask for a token and try again until it works or the person cancels. */
export async function withWriteToken<T>(write: (token: string | null) => Promise<T>): Promise<T> {
  for (;;) {
    const used = token;
    try {
      return await write(used);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) throw err;
      // Another write may have got a new token while this one was failing.
      if (token !== used) continue;
      const entered = await askOnce(used !== null);
      if (!entered) throw err;
      token = entered;
      try {
        localStorage.setItem(KEY, entered);
      } catch {
        // kept in memory only
      }
    }
  }
}
