"""Request and response bodies of the public API (separate from database rows on purpose)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from reactbin.db.images import ImageRow, Kind, TagCount, TextStatus
from reactbin.db.jobs import JobRow, JobStatus
from reactbin.domain.captions import MAX_TEXT_LENGTH
from reactbin.domain.duplicates import SimilarImage
from reactbin.domain.tags import MAX_TAG_LENGTH, TAG_PATTERN
from reactbin.urls import UrlResolver


class ErrorBody(msgspec.Struct, frozen=True):
    """Every error: a sentence for people and a stable code for programs."""

    detail: str
    code: str


class UserRef(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str


class Image(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    hash: str
    filename: str
    mime_type: str
    size_bytes: int
    width: int
    height: int
    storage_key: str
    thumbnail_key: str | None
    file_url: str
    thumbnail_url: str | None
    created_at: dt.datetime
    tags: list[str]
    use_count: int
    last_used_at: dt.datetime | None
    kind: Kind
    """`still`, `animated` (GIF, APNG, animated WebP) or `video` (MP4, WebM)."""
    duration_ms: int | None
    frame_count: int | None
    has_audio: bool
    preview_url: str | None
    """A small looping animated WebP for animations and videos; null for stills and until it is made."""
    placeholder: str | None
    """A ThumbHash (base64) to paint before the thumbnail arrives; null until it is made."""
    text: str | None
    """The caption text in the image, recognised (OCR) or set by hand; null until read or when there is none."""
    text_status: TextStatus
    uploaded_by: UserRef | None
    """Who uploaded it; null for uploads from before accounts, by an API_TOKENS token, or by a deleted user."""
    favourite: bool
    """Whether the requesting user marked it (always false for anonymous requests)."""


class SimilarItem(msgspec.Struct, frozen=True):
    image: Image
    distance: int
    """Bits in which the two perceptual hashes differ (0-64; at most 10 counts as the same picture)."""
    relation: Literal["duplicate", "template"]
    """`duplicate`: the same picture with the same caption (or none); `template`: the same picture with another
    caption, a different reaction."""


class SimilarList(msgspec.Struct, frozen=True):
    items: list[SimilarItem]


class UploadedImage(Image, frozen=True, kw_only=True):
    duplicate: bool
    """The exact bytes were stored already (200): this is that image."""
    similar: list[SimilarItem] = []
    """Images that show the same picture (as `GET /images/{id}/similar`): "looks like one you have"."""


class MergeRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    into: uuid.UUID
    """The image to keep; the merged one is deleted after its tags, uses, favourites and hand-set caption move."""


class SuggestedTagOut(msgspec.Struct, frozen=True):
    tag: str
    reason: Literal["similar", "caption"]
    """`similar`: images showing the same picture have it; `caption`: a word of the caption is this tag."""
    count: int


class SuggestedTagList(msgspec.Struct, frozen=True):
    items: list[SuggestedTagOut]


class Correction(msgspec.Struct, frozen=True):
    """A term of the query that matched nothing alone, and the nearest tag or caption word."""

    word: str
    replacement: str
    source: Literal["tag", "caption"]


class DidYouMean(msgspec.Struct, frozen=True):
    """The query with every correction applied; it finds at least one image."""

    q: str
    corrections: list[Correction]


class ImageList(msgspec.Struct, frozen=True):
    items: list[Image]
    next_cursor: str | None
    did_you_mean: DidYouMean | None
    """Searches (`q`) only, on a first page that is empty: a close tag or caption match for the unmatched words."""


# Documents the rule of `domain.tags` for each item; not enforced here, so a bad tag stays a 422 `invalid_tag`.
_TAG_ITEM_SCHEMA = {
    "type": "string",
    "pattern": TAG_PATTERN,
    "description": f"Lowercased, inner whitespace becomes `-`; then 1-{MAX_TAG_LENGTH} letters, digits or `-_:.`",
}


class TagsUpdate(msgspec.Struct, frozen=True):
    tags: Annotated[list[str], msgspec.Meta(max_length=500, extra_json_schema={"extra": {"items": _TAG_ITEM_SCHEMA}})]


class ImageUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Fields to change; a field not given stays as it is."""

    text: Annotated[str, msgspec.Meta(max_length=MAX_TEXT_LENGTH)] | msgspec.UnsetType | None = msgspec.UNSET
    """The caption text, set by hand (OCR never overwrites it); empty or null: the image has no caption."""


class TagSuggestion(msgspec.Struct, frozen=True):
    """`name` matched what was typed; `tag` is what it means (itself, or the tag an alias stands for) and `count`
    that tag's number of images."""

    name: str
    count: int
    tag: str


class TagSuggestions(msgspec.Struct, frozen=True):
    items: list[TagSuggestion]


class Health(msgspec.Struct, frozen=True):
    status: str


class Readiness(msgspec.Struct, frozen=True):
    status: str
    database: str
    storage: str


class NotReady(ErrorBody, frozen=True, kw_only=True):
    database: str
    storage: str


def image_out(row: ImageRow, urls: UrlResolver, *, favourite: bool = False) -> Image:
    return Image(
        id=row.id,
        hash=row.hash,
        filename=row.filename,
        mime_type=row.mime_type,
        size_bytes=row.size_bytes,
        width=row.width,
        height=row.height,
        storage_key=row.storage_key,
        thumbnail_key=row.thumbnail_key,
        file_url=urls.file_url(row.id, row.storage_key),
        thumbnail_url=urls.thumbnail_url(row.id, row.thumbnail_key),
        created_at=row.created_at,
        tags=row.tags,
        use_count=row.use_count,
        last_used_at=row.last_used_at,
        kind=row.kind,
        duration_ms=row.duration_ms,
        frame_count=row.frame_count,
        has_audio=row.has_audio,
        preview_url=urls.preview_url(row.id, row.preview_key),
        placeholder=row.placeholder,
        text=row.text,
        text_status=row.text_status,
        uploaded_by=None
        if row.uploaded_by is None or row.uploaded_by_name is None
        else UserRef(row.uploaded_by, row.uploaded_by_name),
        favourite=favourite,
    )


def uploaded_out(
    row: ImageRow,
    urls: UrlResolver,
    *,
    duplicate: bool,
    favourite: bool = False,
    similar: list[SimilarItem] | None = None,
) -> UploadedImage:
    return UploadedImage(
        **msgspec.structs.asdict(image_out(row, urls, favourite=favourite)), duplicate=duplicate, similar=similar or []
    )


def similar_out(items: list[SimilarImage], urls: UrlResolver) -> list[SimilarItem]:
    return [SimilarItem(image_out(item.image, urls), item.distance, item.relation) for item in items]


def tag_suggestions_out(counts: list[TagCount]) -> TagSuggestions:
    return TagSuggestions(items=[TagSuggestion(name=c.name, count=c.count, tag=c.tag or c.name) for c in counts])


class ImageUse(msgspec.Struct, frozen=True):
    use_count: int
    last_used_at: dt.datetime


class NewAlias(msgspec.Struct, frozen=True):
    """`alias` will mean `tag`: existing uses of `alias` are rewritten to `tag`."""

    alias: Annotated[str, msgspec.Meta(max_length=200)]
    tag: Annotated[str, msgspec.Meta(max_length=200)]


class Alias(msgspec.Struct, frozen=True):
    alias: str
    tag: str
    created_at: dt.datetime


class AliasList(msgspec.Struct, frozen=True):
    items: list[Alias]


class NewImplication(msgspec.Struct, frozen=True):
    """Images tagged `tag` also count as `implies` when searching."""

    tag: Annotated[str, msgspec.Meta(max_length=200)]
    implies: Annotated[str, msgspec.Meta(max_length=200)]


class Implication(msgspec.Struct, frozen=True):
    tag: str
    implies: str
    created_at: dt.datetime


class ImplicationList(msgspec.Struct, frozen=True):
    items: list[Implication]


class JobAccepted(msgspec.Struct, frozen=True):
    """A thumbnail job was queued; poll `Location` (`/api/v1/jobs/{job_id}`) for its outcome."""

    job_id: uuid.UUID
    status: JobStatus
    message: str


class JobError(msgspec.Struct, frozen=True):
    code: str
    detail: str


class JobResult(msgspec.Struct, frozen=True, kw_only=True):
    thumbnail_url: str
    width: int
    height: int
    mime_type: str
    size_bytes: int


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """`started_at` is when a worker first started the job; `result` is set on SUCCESS, `error` on FAILURE."""

    job_id: uuid.UUID
    status: JobStatus
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: JobError | None
    result: JobResult | None


class JobList(msgspec.Struct, frozen=True):
    items: list[Job]
    next_cursor: str | None


class JobThumbnail(msgspec.Struct, frozen=True):
    job_id: uuid.UUID
    thumbnail_url: str


def job_out(row: JobRow, urls: UrlResolver) -> Job:
    result = None
    if row.result is not None:
        result = JobResult(
            thumbnail_url=urls.job_thumbnail_url(row.id, row.result.key),
            width=row.result.width,
            height=row.result.height,
            mime_type=row.result.mime_type,
            size_bytes=row.result.size_bytes,
        )
    error = None
    if row.status == "FAILURE":
        error = JobError(code=row.error_code or "internal_error", detail=row.error_detail or "The job failed")
    return Job(
        job_id=row.id,
        status=row.status,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=error,
        result=result,
    )


# --- Accounts ---------------------------------------------------------------------------------------------------

Role = Literal["admin", "member", "viewer"]
KeyScope = Literal["full", "upload"]
# Documented here, checked by the domain: a bad name is a 422 `invalid_user_name` and a bad password a 422
# `invalid_password` (never hashed), clear answers rather than schema errors. Bodies are capped in bytes.
UserName = Annotated[
    str, msgspec.Meta(extra_json_schema={"extra": {"pattern": r"^[A-Za-z0-9_.-]{1,32}$", "maxLength": 32}})
]
Password = Annotated[str, msgspec.Meta(extra_json_schema={"extra": {"minLength": 10, "maxLength": 256}})]


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    role: Role
    disabled: bool
    created_at: dt.datetime
    has_password: bool
    """False for users who sign in only through OpenID Connect."""
    oidc: bool
    """Whether the user has signed in through OpenID Connect."""


class UserList(msgspec.Struct, frozen=True):
    items: list[User]


class NewUser(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: UserName
    role: Role = "member"
    password: Password | None = None
    """10-256 characters; none: the user can only sign in through OpenID Connect (or after a reset)."""


class UserUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Fields to change; disabling or a new password ends the user's sessions and keys at once."""

    name: UserName | None = None
    role: Role | None = None
    disabled: bool | None = None
    password: Password | None = None


class SignIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: str
    password: str


class Setup(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The first admin, with the one-time code the server logged (`/setup?code=...`)."""

    code: Annotated[str, msgspec.Meta(max_length=200)]
    username: UserName
    password: Password


class SetupStatus(msgspec.Struct, frozen=True):
    needed: bool
    """True while the library has no user: the setup screen (with the logged code) creates the first admin."""


class Me(msgspec.Struct, frozen=True, kw_only=True):
    """Who the request is from. `auth`: `session` (cookie), `key` (API key), `token` (API_TOKENS, acts as an admin),
    `open` (no user exists yet: everyone may do everything) or `anonymous` (reads of a public library)."""

    id: uuid.UUID | None
    name: str | None
    role: Role | None
    auth: Literal["session", "key", "token", "open", "anonymous"]
    csrf_token: str | None
    """Send it as `X-CSRF-Token` with every write made with the session cookie."""
    scope: KeyScope
    """`upload`: an upload-only key, which may call nothing but `POST /images`."""


class OidcInfo(msgspec.Struct, frozen=True):
    name: str
    """What the button says: "Sign in with <name>"."""
    login_url: str


class SignInOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What the sign-in screen offers: the setup screen (no user yet), "Sign in with ..." (OIDC) and passwords."""

    setup_needed: bool
    oidc: OidcInfo | None
    public_read: bool


class SessionOut(msgspec.Struct, frozen=True):
    user: User
    csrf_token: str


class NewApiKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    scope: KeyScope = "full"
    """`upload`: may only upload images (what ShareX needs); `full`: acts as its user."""


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    scope: KeyScope
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    """Updated at most once a minute."""


class CreatedApiKey(ApiKey, frozen=True, kw_only=True):
    key: str
    """`rb_...`: shown this once, stored only as a hash. Send as `Authorization: Bearer <key>`."""


class ApiKeyList(msgspec.Struct, frozen=True):
    items: list[ApiKey]
