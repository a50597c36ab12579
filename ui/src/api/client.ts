// Thin, typed calls to /api/v1. Every type comes from schema.d.ts, generated from the OpenAPI schema.
import type { components, operations } from "./schema";

export type Image = components["schemas"]["Image"];
export type UploadedImage = components["schemas"]["UploadedImage"];
export type ImageList = components["schemas"]["ImageList"];
export type DidYouMean = components["schemas"]["DidYouMean"];
export type TagSuggestion = components["schemas"]["TagSuggestion"];
type ErrorBody = components["schemas"]["ErrorBody"];
type ListQuery = NonNullable<operations["ApiV1ImagesListImages"]["parameters"]["query"]>;
type TagQuery = NonNullable<operations["ApiV1TagsSuggestTags"]["parameters"]["query"]>;
type TagsUpdate = components["schemas"]["TagsUpdate"];
export type ShareXConfig = components["schemas"]["ShareXConfig"];
type ImageUpdate = components["schemas"]["ImageUpdate"];
export type SimilarItem = components["schemas"]["SimilarItem"];
export type SuggestedTag = components["schemas"]["SuggestedTagOut"];

const API = "/api/v1";

// A signed-in browser's writes carry its session's CSRF token (the session cookie itself is sent by the browser).
let csrfToken: string | null = null;

/** Set by the account store when it learns the session's token (null when signed out). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

function csrfHeader(method: string): Record<string, string> {
  return csrfToken && !["GET", "HEAD", "OPTIONS"].includes(method) ? { "x-csrf-token": csrfToken } : {};
}

/** An API error (`{"detail","code"}`), or a network failure with status 0 and code `network_error`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

const NETWORK_DETAIL = "Could not reach the server. Check your connection and try again.";

function errorFrom(status: number, body: unknown): ApiError {
  if (body && typeof body === "object" && "detail" in body && "code" in body) {
    const { detail, code } = body as ErrorBody;
    return new ApiError(status, String(code), String(detail));
  }
  return new ApiError(status, "http_error", `The server answered ${status}.`);
}

async function request<T>(method: string, path: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(API + path, {
      method,
      ...init,
      headers: { accept: "application/json", ...csrfHeader(method), ...init.headers },
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "network_error", NETWORK_DETAIL);
  }
  if (response.status === 204) return undefined as T;
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw errorFrom(response.status, body);
  return body as T;
}

function query(params: Record<string, string | number | readonly string[] | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export function listImages(params: ListQuery, signal?: AbortSignal): Promise<ImageList> {
  return request("GET", `/images${query(params)}`, signal ? { signal } : {});
}

export function getImage(id: string, signal?: AbortSignal): Promise<Image> {
  return request("GET", `/images/${encodeURIComponent(id)}`, signal ? { signal } : {});
}

function authorization(token: string | null): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export function replaceTags(id: string, tags: string[], token: string | null): Promise<Image> {
  const body: TagsUpdate = { tags };
  return request("PATCH", `/images/${encodeURIComponent(id)}/tags`, {
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", ...authorization(token) },
  });
}

/** Set the caption text by hand (OCR never overwrites it); an empty text means the image has none. */
export function updateImage(id: string, update: ImageUpdate, token: string | null): Promise<Image> {
  return request("PATCH", `/images/${encodeURIComponent(id)}`, {
    body: JSON.stringify(update),
    headers: { "content-type": "application/json", ...authorization(token) },
  });
}

export function deleteImage(id: string, token: string | null): Promise<void> {
  return request("DELETE", `/images/${encodeURIComponent(id)}`, { headers: authorization(token) });
}

/** Images that show the same picture: duplicates first, then the same template with another caption. */
export async function similarImages(id: string, signal?: AbortSignal): Promise<SimilarItem[]> {
  const path = `/images/${encodeURIComponent(id)}/similar`;
  return (await request<components["schemas"]["SimilarList"]>("GET", path, signal ? { signal } : {})).items;
}

/** Move the image's tags, uses and hand-set caption into `into` and delete it; resolves with the kept image. */
export function mergeImage(id: string, into: string, token: string | null): Promise<Image> {
  const body: components["schemas"]["MergeRequest"] = { into };
  return postJson(`/images/${encodeURIComponent(id)}/merge`, body, token);
}

/** Up to 10 existing tags the image probably wants (from similar images and caption words). */
export async function suggestedTags(id: string, signal?: AbortSignal): Promise<SuggestedTag[]> {
  const path = `/images/${encodeURIComponent(id)}/suggested-tags`;
  return (await request<components["schemas"]["SuggestedTagList"]>("GET", path, signal ? { signal } : {})).items;
}

/** Count one use (copy, download, open) of an image; `sort:popular` orders by it. */
export function recordUse(id: string, token: string | null): Promise<unknown> {
  return request("POST", `/images/${encodeURIComponent(id)}/uses`, { headers: authorization(token), keepalive: true });
}

export type Alias = components["schemas"]["Alias"];
export type Implication = components["schemas"]["Implication"];

export async function listAliases(): Promise<Alias[]> {
  return (await request<components["schemas"]["AliasList"]>("GET", "/tag-aliases")).items;
}

export async function listImplications(): Promise<Implication[]> {
  return (await request<components["schemas"]["ImplicationList"]>("GET", "/tag-implications")).items;
}

function postJson<T>(path: string, body: unknown, token: string | null): Promise<T> {
  return request("POST", path, {
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", ...authorization(token) },
  });
}

export function createAlias(body: components["schemas"]["NewAlias"], token: string | null): Promise<Alias> {
  return postJson("/tag-aliases", body, token);
}

export function createImplication(
  body: components["schemas"]["NewImplication"],
  token: string | null,
): Promise<Implication> {
  return postJson("/tag-implications", body, token);
}

export function deleteAlias(alias: string, token: string | null): Promise<void> {
  return request("DELETE", `/tag-aliases/${encodeURIComponent(alias)}`, { headers: authorization(token) });
}

export function deleteImplication(tag: string, implied: string, token: string | null): Promise<void> {
  const path = `/tag-implications/${encodeURIComponent(tag)}/${encodeURIComponent(implied)}`;
  return request("DELETE", path, { headers: authorization(token) });
}

export async function suggestTags(params: TagQuery, signal?: AbortSignal): Promise<TagSuggestion[]> {
  const body = await request<components["schemas"]["TagSuggestions"]>(
    "GET",
    `/tags${query(params)}`,
    signal ? { signal } : {},
  );
  return body.items;
}

/**
 * Upload one file as multipart (`file`, `tags`) with XHR, because fetch has no upload progress.
 * Resolves with the image (check `duplicate`), rejects with an ApiError.
 */
export function uploadImage(
  file: File,
  tags: string,
  token: string | null,
  onProgress: (sent: number, total: number) => void,
  signal?: AbortSignal,
): Promise<UploadedImage> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}/images`);
    xhr.responseType = "json";
    xhr.setRequestHeader("accept", "application/json");
    if (token) xhr.setRequestHeader("authorization", `Bearer ${token}`);
    for (const [name, value] of Object.entries(csrfHeader("POST"))) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      if (xhr.status === 200 || xhr.status === 201) resolve(xhr.response as UploadedImage);
      else reject(errorFrom(xhr.status, xhr.response));
    };
    xhr.onerror = () => reject(new ApiError(0, "network_error", NETWORK_DETAIL));
    xhr.onabort = () => reject(new DOMException("Upload cancelled", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    const form = new FormData();
    if (tags) form.append("tags", tags);
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

export function getShareXConfig(): Promise<ShareXConfig> {
  return request("GET", "/sharex.sxcu");
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return "Something went wrong.";
}

// --- Accounts ---------------------------------------------------------------------------------------------------

export type Me = components["schemas"]["Me"];
export type User = components["schemas"]["User"];
export type ApiKey = components["schemas"]["ApiKey"];
export type CreatedApiKey = components["schemas"]["CreatedApiKey"];
export type SignInOptions = components["schemas"]["SignInOptions"];
export type SessionOut = components["schemas"]["SessionOut"];
type NewUser = components["schemas"]["NewUser"];
type UserUpdate = components["schemas"]["UserUpdate"];
type NewApiKey = components["schemas"]["NewApiKey"];

function sendJson<T>(method: string, path: string, body: unknown): Promise<T> {
  return request(method, path, { body: JSON.stringify(body), headers: { "content-type": "application/json" } });
}

export function signInOptions(): Promise<SignInOptions> {
  return request("GET", "/sign-in");
}

/** Who this browser is; null when anonymous on a library that has users. */
export async function whoAmI(token: string | null): Promise<Me | null> {
  try {
    return await request<Me>("GET", "/me", { headers: authorization(token) });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export function signIn(username: string, password: string): Promise<SessionOut> {
  return sendJson("POST", "/session", { username, password });
}

export function signOut(): Promise<void> {
  return request("DELETE", "/session");
}

export function completeSetup(code: string, username: string, password: string): Promise<SessionOut> {
  return sendJson("POST", "/setup", { code, username, password });
}

export async function listKeys(): Promise<ApiKey[]> {
  return (await request<components["schemas"]["ApiKeyList"]>("GET", "/me/keys")).items;
}

export function createKey(body: NewApiKey): Promise<CreatedApiKey> {
  return sendJson("POST", "/me/keys", body);
}

export function revokeKey(id: string): Promise<void> {
  return request("DELETE", `/me/keys/${encodeURIComponent(id)}`);
}

export async function listUsers(): Promise<User[]> {
  return (await request<components["schemas"]["UserList"]>("GET", "/users")).items;
}

export function createUser(body: NewUser): Promise<User> {
  return sendJson("POST", "/users", body);
}

export function updateUser(id: string, body: UserUpdate): Promise<User> {
  return sendJson("PATCH", `/users/${encodeURIComponent(id)}`, body);
}

export function deleteUser(id: string): Promise<void> {
  return request("DELETE", `/users/${encodeURIComponent(id)}`);
}

export function setFavourite(id: string, favourite: boolean): Promise<void> {
  return request(favourite ? "PUT" : "DELETE", `/images/${encodeURIComponent(id)}/favourite`);
}
