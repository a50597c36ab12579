// A ShareX custom-uploader config from the server, with a credential filled into its Authorization header.
import { createKey, getShareXConfig } from "./api/client";

function save(config: unknown): void {
  const blob = new Blob([JSON.stringify(config, null, 2)], { type: "application/json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "reactbin.sxcu";
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** Make a fresh upload-only key named for ShareX and download a config that uses it; returns the key's name. */
export async function downloadShareXWithNewKey(): Promise<string> {
  const name = `ShareX ${new Date().toISOString().slice(0, 10)}`;
  const created = await createKey({ name, scope: "upload" });
  const config = await getShareXConfig();
  config.Headers = { ...(config.Headers ?? {}), Authorization: `Bearer ${created.key}` };
  save(config);
  return name;
}

/** The config with a token the browser already holds (API_TOKENS deployments), or the server's placeholder. */
export async function downloadShareXWithToken(token: string | null): Promise<{ placeholder: boolean }> {
  const config = await getShareXConfig();
  if (config.Headers && token) config.Headers = { ...config.Headers, Authorization: `Bearer ${token}` };
  save(config);
  return { placeholder: Boolean(config.Headers) && !token };
}
