import type { Image } from "../api/client";
import { libraryHref } from "../router";

/** "Uploaded by alice", linking to everything alice uploaded (`by:alice`); nothing for uploads without an uploader. */
export function UploadedBy({ image }: { image: Image }) {
  if (!image.uploaded_by) return null;
  const name = image.uploaded_by.name;
  return (
    <div>
      <dt>Uploaded by</dt>
      <dd class="uploaded-by">
        <a href={libraryHref([], `by:${name}`)}>{name}</a>
      </dd>
    </div>
  );
}
