// Names the service worker and the page agree on (this module is bundled into both: it may use neither's APIs).

/** Files shared to reactbin from another app wait here until the upload screen takes them. */
export const SHARE_CACHE = "reactbin-shared-files";
/** Where the shared files of one share are kept: `${SHARE_PREFIX}${shareId}/${index}`. */
export const SHARE_PREFIX = "/__reactbin/shared/";
/** The share target's action in the web app manifest. */
export const SHARE_TARGET = "/share-target";
/** Header of a kept shared file: its name, URI-encoded. */
export const SHARED_NAME_HEADER = "x-reactbin-filename";
/** The code of the service worker's answer to an API request it could neither fetch nor find saved. */
export const OFFLINE_CODE = "offline";
