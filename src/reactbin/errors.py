"""Domain errors and the one table that maps each to an HTTP status and a stable code."""

from __future__ import annotations


class ReactbinError(Exception):
    """Base of every error a client may see; `detail` is safe to show, `code` is stable."""

    status_code: int = 500
    code: str = "internal_error"
    detail: str = "Internal server error"

    def __init__(self, detail: str | None = None) -> None:
        if detail is not None:
            self.detail = detail
        super().__init__(self.detail)


class InvalidMultipart(ReactbinError):
    status_code = 400
    code = "invalid_multipart"
    detail = "The request body is not valid multipart/form-data"


class MissingFile(ReactbinError):
    status_code = 400
    code = "missing_file"
    detail = "The form needs exactly one file part"


class ClientGone(ReactbinError):
    """The client disconnected before its request body arrived; nobody reads the answer."""

    status_code = 400
    code = "client_disconnected"
    detail = "The client disconnected before the request was complete"


class InvalidCursor(ReactbinError):
    status_code = 400
    code = "invalid_cursor"
    detail = "The cursor is malformed or was not issued by this service"


class InvalidQuery(ReactbinError):
    status_code = 400
    code = "invalid_query"
    detail = "The search query is malformed"


class TagRuleConflict(ReactbinError):
    status_code = 409
    code = "tag_rule_conflict"
    detail = "The tag rule conflicts with the existing ones"


class TagRuleNotFound(ReactbinError):
    status_code = 404
    code = "tag_rule_not_found"
    detail = "No such tag rule"


class RateLimited(ReactbinError):
    status_code = 429
    code = "rate_limited"
    detail = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InvalidUrl(ReactbinError):
    status_code = 400
    code = "invalid_url"
    detail = "The url parameter must be an absolute http(s) URL"


class UnknownUrl(ReactbinError):
    status_code = 404
    code = "url_not_found"
    detail = "The URL is not a page of this library"


class ImageNotFound(ReactbinError):
    status_code = 404
    code = "image_not_found"
    detail = "Image not found"


class ThumbnailNotFound(ReactbinError):
    status_code = 404
    code = "thumbnail_not_found"
    detail = "This image has no thumbnail"


class PreviewNotFound(ReactbinError):
    status_code = 404
    code = "preview_not_found"
    detail = "This image has no preview"


class JobNotFound(ReactbinError):
    status_code = 404
    code = "job_not_found"
    detail = "Job not found"


class JobNotReady(ReactbinError):
    status_code = 409
    code = "job_not_ready"
    detail = "The job has not finished yet"


class InvalidCreatedAt(ReactbinError):
    status_code = 422
    code = "invalid_created_at"
    detail = "created_at must be an ISO 8601 time with a time zone, not in the future"


class MergeConflict(ReactbinError):
    """A merge that cannot happen: into itself, or one of the two images is gone (perhaps merged a moment ago)."""

    status_code = 409
    code = "merge_conflict"
    detail = "These images cannot be merged"


class InvalidThumbnailOptions(ReactbinError):
    status_code = 422
    code = "invalid_thumbnail_options"
    detail = "Invalid thumbnail options"


class FileTooLarge(ReactbinError):
    status_code = 413
    code = "file_too_large"
    detail = "The file is larger than the upload limit"


class RequestTooLarge(ReactbinError):
    status_code = 413
    code = "request_too_large"
    detail = "The request is larger than allowed"


class UnsupportedMediaType(ReactbinError):
    status_code = 415
    code = "unsupported_media_type"
    detail = (
        "Only JPEG, PNG (and APNG), GIF, WebP and AVIF images and MP4 (H.264, AV1) or WebM (VP8, VP9, AV1) videos "
        "are accepted"
    )


class EmptyFile(ReactbinError):
    status_code = 422
    code = "empty_file"
    detail = "The file is empty"


class InvalidImage(ReactbinError):
    status_code = 422
    code = "invalid_image"
    detail = "The file is damaged or not a complete image"


class InvalidVideo(ReactbinError):
    status_code = 422
    code = "invalid_video"
    detail = "The file is damaged or not a complete video"


class VideoTooLong(ReactbinError):
    status_code = 422
    code = "video_too_long"
    detail = "The video is longer than allowed"


class MediaTimeout(ReactbinError):
    """Probing or decoding ran past its time limit: the file is refused rather than left to hang a worker."""

    status_code = 422
    code = "media_timeout"
    detail = "The file took too long to decode"


class ImageTooLarge(ReactbinError):
    status_code = 422
    code = "image_too_large"
    detail = "The image has more pixels than allowed"


class InvalidTag(ReactbinError):
    status_code = 422
    code = "invalid_tag"
    detail = "Invalid tag"


class TooManyTags(ReactbinError):
    status_code = 422
    code = "too_many_tags"
    detail = "An image can have at most 50 tags"


class RangeNotSatisfiable(ReactbinError):
    status_code = 416
    code = "range_not_satisfiable"
    detail = "The requested range is not satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size


class StorageError(ReactbinError):
    """The object store failed or timed out; never carries the store's own message."""

    status_code = 500
    code = "storage_error"
    detail = "Failed to retrieve image content"


class StorageWriteError(StorageError):
    detail = "Failed to store image content"


class ObjectMissing(ReactbinError):
    """A row references an object the store does not have."""

    status_code = 404
    code = "content_not_found"
    detail = "Image content not found"


class DatabaseUnavailable(ReactbinError):
    status_code = 503
    code = "database_unavailable"
    detail = "The database is unavailable, try again shortly"


class InvalidText(ReactbinError):
    status_code = 422
    code = "invalid_text"
    detail = "Invalid caption text"


class Unauthorized(ReactbinError):
    """No credentials, or credentials that name nobody (sent with `WWW-Authenticate`)."""

    status_code = 401
    code = "unauthorized"
    detail = "This server needs a write token: sign in, or send Authorization: Bearer <API key or token>"


class InvalidCredentials(ReactbinError):
    """Wrong password and unknown user are the same answer, so neither can be told from the other."""

    status_code = 401
    code = "invalid_credentials"
    detail = "Wrong user name or password"


class Forbidden(ReactbinError):
    status_code = 403
    code = "forbidden"
    detail = "Your role does not allow this"


class CsrfFailed(ReactbinError):
    status_code = 403
    code = "csrf_failed"
    detail = "A signed-in browser write needs the X-CSRF-Token header and this site's Origin"


class InvalidSetupCode(ReactbinError):
    status_code = 403
    code = "invalid_setup_code"
    detail = "The setup code is wrong; the server logged the right one when it started"


class SetupDone(ReactbinError):
    status_code = 409
    code = "setup_done"
    detail = "This library already has users: sign in instead"


class InvalidPassword(ReactbinError):
    status_code = 422
    code = "invalid_password"
    detail = "A password has 10 to 256 characters"


class InvalidUserName(ReactbinError):
    status_code = 422
    code = "invalid_user_name"
    detail = "A user name is 1-32 letters, digits or . _ -"


class UserExists(ReactbinError):
    status_code = 409
    code = "user_exists"
    detail = "A user with this name (ignoring case) already exists"


class UserNotFound(ReactbinError):
    status_code = 404
    code = "user_not_found"
    detail = "No such user"


class LastAdmin(ReactbinError):
    status_code = 409
    code = "last_admin"
    detail = "At least one active admin must remain"


class KeyNotFound(ReactbinError):
    status_code = 404
    code = "key_not_found"
    detail = "No such API key"


class OidcUnavailable(ReactbinError):
    """The OpenID provider could not be reached or answered nonsense; never a 500."""

    status_code = 502
    code = "oidc_unavailable"
    detail = "The sign-in provider could not be reached; try again later"


class OidcFailed(ReactbinError):
    status_code = 400
    code = "oidc_failed"
    detail = "The sign-in through the provider could not be completed; start again"


class OidcDisabled(ReactbinError):
    status_code = 404
    code = "oidc_disabled"
    detail = "OpenID Connect sign-in is not configured"
