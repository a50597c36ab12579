"""`GET /auth/oidc/login` and `/auth/oidc/callback`: "Sign in with ..." through an OpenID Connect provider.

These are browser pages, not API calls: failures answer a small HTML page that says what happened and links back to
the sign-in screen (a provider that is down is a 502 page, never a 500).
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from reactbin.domain import oidc
from reactbin.domain.resources import Resources
from reactbin.errors import OidcDisabled, OidcFailed, ReactbinError
from reactbin.routes.access import access
from reactbin.routes.accounts import session_cookie
from reactbin.routes.share import public_origin

STATE_COOKIE = "reactbin_oidc_state"
CALLBACK_PATH = "/auth/oidc/callback"


def _client(request: Request[Any, Any, Any]) -> oidc.OidcClient:
    client: oidc.OidcClient | None = getattr(request.app.state, "oidc", None)
    if client is None:
        raise OidcDisabled()
    return client


def _state_cookie(res: Resources, value: str, max_age: int) -> Cookie:
    secure = bool(res.settings.public_url and res.settings.public_url.startswith("https://"))
    # Lax: the provider sends the browser back with a top-level GET, which carries Lax cookies.
    return Cookie(
        key=STATE_COOKIE, value=value, path="/auth/oidc", httponly=True, samesite="lax", secure=secure, max_age=max_age
    )


def _error_page(exc: ReactbinError) -> Response[bytes]:
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in failed - reactbin</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Sign-in failed</h1><p>{html.escape(exc.detail)}</p>
<p><a href="/signin">Back to sign-in</a></p></main></body></html>
"""
    return Response(body.encode(), status_code=exc.status_code, media_type="text/html; charset=utf-8")


@get("/auth/oidc/login", include_in_schema=False, opt=access("public"))
async def oidc_login(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> Response[Any]:
    try:
        client = _client(request)
        started = await client.start(res, public_origin(res.settings, request) + CALLBACK_PATH)
    except ReactbinError as exc:
        return _error_page(exc)
    return Redirect(started.url, status_code=302, cookies=[_state_cookie(res, started.state, int(oidc.LOGIN_MAX_AGE))])


@get("/auth/oidc/callback", include_in_schema=False, opt=access("public"))
async def oidc_callback(
    request: Request[Any, Any, Any],
    res: NamedDependency[Resources],
    code: Annotated[str | None, QueryParameter(max_length=4096)] = None,
    returned_state: Annotated[str | None, QueryParameter(name="state", max_length=200)] = None,
    error: Annotated[str | None, QueryParameter(max_length=200)] = None,
    iss: Annotated[str | None, QueryParameter(max_length=2000)] = None,
) -> Response[Any]:
    clear_state = _state_cookie(res, "", 0)
    try:
        client = _client(request)
        if error is not None or code is None or returned_state is None:
            raise OidcFailed("The provider did not sign you in" + (f" ({error})" if error else ""))
        signed_in = await client.finish(
            res,
            public_origin(res.settings, request) + CALLBACK_PATH,
            state=returned_state,
            browser_state=request.cookies.get(STATE_COOKIE),
            code=code,
            issuer=iss,
        )
    except ReactbinError as exc:
        page = _error_page(exc)
        page.cookies.append(clear_state)
        return page
    return Redirect("/", status_code=302, cookies=[session_cookie(res, signed_in.session_id), clear_state])
