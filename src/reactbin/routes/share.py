"""Getting reactions out and in: chat unfurl pages, oEmbed, a ShareX config, lookups by hash and the limits."""

from __future__ import annotations

import html
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from litestar import Request, Response, get, route
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from reactbin.domain import images as library
from reactbin.domain.resources import Resources
from reactbin.domain.serving import share_cards
from reactbin.domain.serving.caches import ShareCard
from reactbin.domain.tags import MAX_TAG_LENGTH, MAX_TAGS
from reactbin.errors import ImageNotFound, InvalidUrl, Unauthorized, UnknownUrl
from reactbin.media.formats import ACCEPTED_TYPES, MAX_FRAMES
from reactbin.routes.access import access, authenticator_of
from reactbin.routes.images import errors, one_image_out, parse_image_id
from reactbin.routes.schemas import Image, image_out
from reactbin.settings import Settings
from reactbin.urls import (
    API_PREFIX,
    UrlResolver,
    absolute,
    app_detail_path,
    image_id_of_page,
    oembed_path,
    player_page_path,
    share_page_path,
)

SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
# The hosts that frame a player card (Twitter/X and TweetDeck); every other page is DENY / frame-ancestors 'none'.
PLAYER_FRAME_ANCESTORS = "https://twitter.com https://*.twitter.com https://x.com https://*.x.com"
SHAREX_TOKEN_PLACEHOLDER = "Bearer <your write token>"  # noqa: S105 - shown to people, not a secret


def public_origin(settings: Settings, request: Request[Any, Any, Any]) -> str:
    """`PUBLIC_URL` when set, else the origin the request was addressed to."""
    if settings.public_url is not None:
        return settings.public_url
    return str(request.base_url).rstrip("/")


# --- by hash and limits -----------------------------------------------------------------------------------------


@route(
    "/images/by-hash/{sha256:str}",
    http_method=["GET", "HEAD"],
    summary="Find an image by the SHA-256 of its bytes",
    description="Matches the stored bytes' hash and the hash of the file as uploaded (before identifying metadata "
    "was stripped), so a client can hash a local file and skip sending bytes the library already has. "
    "HEAD answers the same status without a body. Upload-scoped API keys may call it too.",
    responses=errors(400, 404, 503),
    opt=access("read", upload_key=True),
)
async def image_by_hash(
    request: Request[Any, Any, Any],
    res: NamedDependency[Resources],
    sha256: Annotated[str, PathParameter(description="SHA-256, 64 hex digits", pattern=SHA256_PATTERN)],
) -> Image:
    return await one_image_out(res, request, await library.find_by_hash(res, sha256.lower()))


class UploadRateLimit(msgspec.Struct, frozen=True):
    requests: int
    seconds: int


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """What this server accepts; `token_accepted` says whether the request's own Bearer token would be accepted
    (null when no token was sent or the server needs none)."""

    accepted_types: list[str]
    max_upload_bytes: int
    max_image_pixels: int
    max_video_seconds: float
    max_frames: int
    max_tags_per_image: int
    max_tag_length: int
    upload_rate_limit: UploadRateLimit | None
    writes_need_token: bool
    token_accepted: bool | None


@get(
    "/limits",
    summary="What uploads this server accepts, its rate limit and whether writes need a token",
    description="`writes_need_token`: the library has users or API_TOKENS, so writes need a key, token or sign-in. "
    "`token_accepted`: whether the request's own Bearer key or token may upload (null when none was sent or the "
    "library is open).",
    opt=access("public"),
    responses=errors(503),
)
async def limits(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> Limits:
    settings = res.settings
    authenticator = authenticator_of(request)
    authorization = request.headers.get("authorization")
    need_token = not await authenticator.library_open()
    accepted: bool | None = None
    if need_token and authorization is not None:
        try:
            principal = await authenticator.resolve(cookie=None, authorization=authorization.encode("latin-1"))
        except Unauthorized:
            accepted = False
        else:
            accepted = principal.role in ("admin", "member")
    rule = settings.upload_rate_limit
    return Limits(
        accepted_types=sorted(ACCEPTED_TYPES),
        max_upload_bytes=settings.max_upload_bytes,
        max_image_pixels=settings.max_image_pixels,
        max_video_seconds=settings.max_video_seconds,
        max_frames=MAX_FRAMES,
        max_tags_per_image=MAX_TAGS,
        max_tag_length=MAX_TAG_LENGTH,
        upload_rate_limit=None if rule is None else UploadRateLimit(rule.requests, rule.seconds),
        writes_need_token=need_token,
        token_accepted=accepted,
    )


# --- ShareX -----------------------------------------------------------------------------------------------------


class ShareXConfig(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    rename={
        "version": "Version",
        "name": "Name",
        "destination_type": "DestinationType",
        "request_method": "RequestMethod",
        "request_url": "RequestURL",
        "headers": "Headers",
        "body": "Body",
        "file_form_name": "FileFormName",
        "url": "URL",
        "thumbnail_url": "ThumbnailURL",
        "error_message": "ErrorMessage",
    },
):
    """A ShareX custom uploader (`.sxcu`). `$json:...$` is ShareX's syntax for a field of the JSON answer."""

    version: str
    name: str
    destination_type: str
    request_method: str
    request_url: str
    body: str
    file_form_name: str
    url: str
    thumbnail_url: str
    error_message: str
    headers: dict[str, str] | None = None


@get(
    "/sharex.sxcu",
    summary="A ShareX custom-uploader config for this server",
    description=f"When writes need a key (the library has users or API_TOKENS), `Headers.Authorization` is "
    f"`{SHAREX_TOKEN_PLACEHOLDER}`: put an API key in (the UI's keys screen makes a config with a fresh upload key).",
    opt=access("public"),
    responses=errors(503),
)
async def sharex_config(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> Response[ShareXConfig]:
    origin = public_origin(res.settings, request)
    # Proxy URLs are paths: ShareX needs them absolute. CDN URLs already are (urls.py decides which it is).
    prefix = "" if res.settings.public_base_url else origin
    config = ShareXConfig(
        version="13.7.0",
        name=f"reactbin ({origin.split('://', 1)[-1]})",
        destination_type="ImageUploader, FileUploader",
        request_method="POST",
        request_url=f"{origin}{API_PREFIX}/images",
        body="MultipartFormData",
        file_form_name="file",
        url=f"{prefix}$json:file_url$",
        thumbnail_url=f"{prefix}$json:thumbnail_url$",
        error_message="$json:detail$",
        headers=None if await authenticator_of(request).library_open() else {"Authorization": SHAREX_TOKEN_PLACEHOLDER},
    )
    return Response(config, headers={"content-disposition": 'attachment; filename="reactbin.sxcu"'})


# --- oEmbed -----------------------------------------------------------------------------------------------------


class OEmbed(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An oEmbed 1.0 answer: `photo` for images, `video` (with `html`) for videos."""

    version: str
    type: str
    title: str
    provider_name: str
    provider_url: str
    width: int
    height: int
    url: str | None = None
    html: str | None = None
    thumbnail_url: str | None = None


@get(
    "/oembed",
    summary="oEmbed for a share page or image page of this library",
    responses=errors(400, 404, 503),
)
async def oembed(
    request: Request[Any, Any, Any],
    res: NamedDependency[Resources],
    url: Annotated[str, QueryParameter(description="A /i/{id} or /images/{id} URL of this service", max_length=2048)],
) -> OEmbed:
    try:
        parts = urlsplit(url)
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket or a bad port
        valid = False
    if not valid:
        raise InvalidUrl()
    origin = public_origin(res.settings, request)
    image_id = image_id_of_page(url, origin)
    if image_id is None:
        raise UnknownUrl()
    image = image_out(await library.get_image(res, image_id), res.urls)
    file_url = absolute(image.file_url, origin)
    common: dict[str, Any] = {
        "version": "1.0",
        "title": image.filename,
        "provider_name": "reactbin",
        "provider_url": f"{origin}/",
        "width": image.width,
        "height": image.height,
    }
    if image.mime_type.startswith("video/"):
        poster = absolute(image.thumbnail_url, origin) if image.thumbnail_url else None
        player = (
            f'<video src="{html.escape(file_url)}" width="{image.width}" height="{image.height}"'
            + (f' poster="{html.escape(poster)}"' if poster else "")
            + " controls loop playsinline></video>"
        )
        return OEmbed(type="video", html=player, thumbnail_url=poster, **common)
    return OEmbed(type="photo", url=file_url, **common)


# --- the share page ---------------------------------------------------------------------------------------------


# A path parameter, not a str one: Litestar's router does not fall back from /i to the UI's catch-all route, so
# /i/a/b must be answered here (with the same HTML 404) rather than as a JSON one.
@route("/i/{image_id:path}", http_method=["GET", "HEAD"], include_in_schema=False)
async def share_page(
    request: Request[Any, Any, Any], res: NamedDependency[Resources], image_id: Annotated[str, PathParameter()]
) -> Response[bytes]:
    """A tiny page with Open Graph and Twitter card tags for chat unfurls; people are sent on to the UI.

    `/i/{id}/player` is the video alone, for the Twitter/X player card: the one page other sites may frame.
    """
    raw_id, _, rest = image_id.strip("/").partition("/")
    if rest not in ("", "player"):
        return _not_found_page()
    try:
        card = await share_cards.share_card(res, parse_image_id(raw_id))
    except ImageNotFound:
        return _not_found_page()
    origin = public_origin(res.settings, request)
    cache = {"cache-control": "public, max-age=60"}
    if rest == "player":
        if not card.mime_type.startswith("video/"):
            return _not_found_page()
        frame_policy = player_frame_policy(res.settings.public_base_url)
        body = render_player_page(card, res.urls, origin).encode()
        return Response(
            body, media_type="text/html; charset=utf-8", headers={**cache, "content-security-policy": frame_policy}
        )
    body = render_share_page(card, res.urls, origin).encode()
    return Response(body, media_type="text/html; charset=utf-8", headers=cache)


def player_frame_policy(public_base_url: str | None) -> str:
    """The player page's own CSP: no script, the video from here or the CDN, framed only by the card's hosts."""
    cdn = f" {public_base_url}" if public_base_url else ""
    return (
        f"default-src 'none'; media-src 'self'{cdn}; img-src 'self'{cdn}; style-src 'unsafe-inline'; "
        f"base-uri 'none'; form-action 'none'; frame-ancestors {PLAYER_FRAME_ANCESTORS}"
    )


def render_player_page(image: ShareCard, urls: UrlResolver, origin: str) -> str:
    """The video filling the frame, muted and looping as a reaction plays; the controls unmute it."""
    e = html.escape
    file_url = absolute(urls.file_url(image.id, image.storage_key), origin)
    thumbnail_url = urls.thumbnail_url(image.id, image.thumbnail_key)
    poster = f' poster="{e(absolute(thumbnail_url, origin))}"' if thumbnail_url else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>{e(image.filename)} · reactbin</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<style>html,body{margin:0;height:100%;background:#000}"
        "video{display:block;width:100%;height:100%;object-fit:contain}</style>\n"
        "</head><body>\n"
        f'<video src="{e(file_url)}"{poster} width="{image.width}" height="{image.height}"'
        " controls autoplay muted loop playsinline></video>\n"
        "</body></html>\n"
    )


@route("/i", http_method=["GET", "HEAD"], include_in_schema=False)
async def share_page_without_id() -> Response[bytes]:
    return _not_found_page()


def _not_found_page() -> Response[bytes]:
    return Response(_NOT_FOUND_PAGE, status_code=404, media_type="text/html; charset=utf-8")


def render_share_page(image: ShareCard, urls: UrlResolver, origin: str) -> str:
    """The page's HTML; every value from the library is escaped.

    The description is the readable caption (`WHY NOT BOTH`) when there is one: the card behind the page is dropped
    on every replica when the caption changes. Tags stay out of it.
    """
    page_url = f"{origin}{share_page_path(image.id)}"
    file_url = absolute(urls.file_url(image.id, image.storage_key), origin)
    thumbnail_url = urls.thumbnail_url(image.id, image.thumbnail_key)
    video = image.mime_type.startswith("video/")
    kind = image.mime_type.split("/")[-1].upper()
    description = f"{kind}, {image.width}×{image.height}, on reactbin"
    caption = " ".join((image.text or "").split())
    if caption:
        caption = caption if len(caption) <= 200 else caption[:199].rstrip() + "…"
        description = f"“{caption}” · {description}"
    meta: list[tuple[str, str, str]] = [
        ("property", "og:site_name", "reactbin"),
        ("property", "og:type", "video.other" if video else "website"),
        ("property", "og:title", image.filename),
        ("property", "og:description", description),
        ("property", "og:url", page_url),
    ]
    dimensions = [("width", str(image.width)), ("height", str(image.height))]
    if video:
        meta += [("property", "og:video", file_url), ("property", "og:video:type", image.mime_type)]
        meta += [("property", f"og:video:{name}", value) for name, value in dimensions]
        if file_url.startswith("https://"):
            meta.append(("property", "og:video:secure_url", file_url))
        if thumbnail_url:
            poster = absolute(thumbnail_url, origin)
            meta += [("property", "og:image", poster), ("name", "twitter:image", poster)]
        meta += [
            ("name", "twitter:card", "player"),
            ("name", "twitter:player", f"{origin}{player_page_path(image.id)}"),
            ("name", "twitter:player:width", str(image.width)),
            ("name", "twitter:player:height", str(image.height)),
            ("name", "twitter:player:stream", file_url),
            ("name", "twitter:player:stream:content_type", image.mime_type),
        ]
    else:
        meta += [("property", "og:image", file_url), ("property", "og:image:type", image.mime_type)]
        meta += [("property", f"og:image:{name}", value) for name, value in dimensions]
        if file_url.startswith("https://"):
            meta.append(("property", "og:image:secure_url", file_url))
        meta += [("name", "twitter:card", "summary_large_image"), ("name", "twitter:image", file_url)]
    meta += [("name", "twitter:title", image.filename), ("name", "twitter:description", description)]

    e = html.escape
    detail = app_detail_path(image.id)
    tags = "".join(f'<meta {kind}="{e(name)}" content="{e(value)}">\n' for kind, name, value in meta)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>{e(image.filename)} · reactbin</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{tags}"
        f'<link rel="canonical" href="{e(page_url)}">\n'
        f'<link rel="alternate" type="application/json+oembed" href="{e(origin + oembed_path(page_url))}"'
        f' title="{e(image.filename)}">\n'
        f'<meta http-equiv="refresh" content="0; url={e(detail)}">\n'
        "</head><body>\n"
        f'<p><a href="{e(detail)}">{e(image.filename)}</a> on reactbin</p>\n'
        "</body></html>\n"
    )


_NOT_FOUND_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Image not found \xc2\xb7 reactbin</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>Image not found</h1><p>It may have been deleted, or the link is wrong.</p>
<p><a href="/">Go to the library</a></p></body></html>
"""
