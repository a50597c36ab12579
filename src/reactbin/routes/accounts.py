"""Accounts: sign-in and sessions, the first-run setup, who am I, personal API keys, users (admins), favourites."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from reactbin.db.accounts import KeyRow, UserRow
from reactbin.domain import accounts, favourites
from reactbin.domain.principals import SESSION_COOKIE, SignedInUser, csrf_token_of
from reactbin.domain.resources import Resources
from reactbin.errors import KeyNotFound, Unauthorized, UserNotFound
from reactbin.routes.access import access, authenticator_of, principal_of
from reactbin.routes.images import ImageId, errors, parse_image_id
from reactbin.routes.schemas import (
    ApiKey,
    ApiKeyList,
    CreatedApiKey,
    Me,
    NewApiKey,
    NewUser,
    OidcInfo,
    SessionOut,
    Setup,
    SignIn,
    SignInOptions,
    User,
    UserList,
    UserUpdate,
)

_COOKIE_MAX_AGE = 400 * 24 * 3600
"""Browsers cap cookies at 400 days; the server ends idle sessions itself (SESSION_TTL)."""


def user_out(row: UserRow) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=row.role,
        disabled=row.disabled,
        created_at=row.created_at,
        has_password=row.has_password,
        oidc=row.oidc,
    )


def _key_out(row: KeyRow) -> ApiKey:
    return ApiKey(id=row.id, name=row.name, scope=row.scope, created_at=row.created_at, last_used_at=row.last_used_at)


def session_cookie(res: Resources, value: str, *, max_age: int = _COOKIE_MAX_AGE) -> Cookie:
    """`HttpOnly`, `SameSite=Lax`, and `Secure` when the public origin is https."""
    secure = bool(res.settings.public_url and res.settings.public_url.startswith("https://"))
    return Cookie(
        key=SESSION_COOKIE, value=value, path="/", httponly=True, samesite="lax", secure=secure, max_age=max_age
    )


def signed_in_response(res: Resources, signed_in: accounts.SignedIn) -> Response[SessionOut]:
    body = SessionOut(user=user_out(signed_in.user), csrf_token=csrf_token_of(signed_in.session_id))
    return Response(body, status_code=200, cookies=[session_cookie(res, signed_in.session_id)])


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


UserId = Annotated[str, PathParameter(description="User id", format="uuid")]
KeyId = Annotated[str, PathParameter(description="API key id", format="uuid")]


def _uuid(raw: str, missing: type[Exception]) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise missing() from None


# --- Sessions ---------------------------------------------------------------------------------------------------


@get(
    "/sign-in",
    summary="What the sign-in screen offers",
    description="`setup_needed`: no user exists yet (the setup screen needs the code the server logged); `oidc`: "
    '"Sign in with ..." is available; `public_read`: anonymous visitors may browse once users exist.',
    opt=access("public"),
    responses=errors(503),
)
async def sign_in_options(res: NamedDependency[Resources]) -> SignInOptions:
    oidc = res.settings.oidc
    return SignInOptions(
        setup_needed=await accounts.setup_needed(res),
        oidc=None if oidc is None else OidcInfo(name=oidc.name, login_url="/auth/oidc/login"),
        public_read=res.settings.public_read,
    )


@post(
    "/session",
    summary="Sign in with a password",
    description="Sets the `reactbin_session` cookie (HttpOnly, SameSite=Lax, Secure under an https PUBLIC_URL; a new "
    "id at every sign-in). Send the returned `csrf_token` as `X-CSRF-Token` with every write. Unknown user and wrong "
    "password are the same 401 `invalid_credentials`; more than 10 failures per user name or per client within 15 "
    "minutes: 429 with Retry-After.",
    opt=access("public"),
    request_max_body_size=64 * 1024,
    status_code=200,
    responses=errors(400, 401, 403, 413, 429, 503),
)
async def sign_in(
    request: Request[Any, Any, Any], res: NamedDependency[Resources], data: JSONBody[SignIn]
) -> Response[SessionOut]:
    signed_in = await accounts.sign_in(res, data.username, data.password, client=_client(request))
    return signed_in_response(res, signed_in)


@delete(
    "/session",
    summary="Sign out",
    description="Ends this session everywhere at once and clears the cookie.",
    opt=access("public", principal=True),
    responses=errors(401, 403, 503),
    response_cookies=[Cookie(key=SESSION_COOKIE, value="", path="/", httponly=True, samesite="lax", max_age=0)],
)
async def sign_out(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> None:
    principal = principal_of(request)
    if principal.session_hash is not None:
        await accounts.end_session(res, principal.session_hash)
        authenticator_of(request).forget()


@get(
    "/me",
    summary="Who am I",
    description="401 when anonymous on a library that has users (or API_TOKENS).",
    opt=access("public", principal=True),
    responses=errors(401, 503),
)
async def me(request: Request[Any, Any, Any]) -> Me:
    principal = principal_of(request)
    if principal.role is None:
        raise Unauthorized("Not signed in")
    return Me(
        id=principal.user_id,
        name=principal.name,
        role=principal.role,
        auth=principal.auth,
        csrf_token=principal.csrf_token,
        scope=principal.scope,
    )


# --- First-run setup ----------------------------------------------------------------------------------------------


@post(
    "/setup",
    summary="Create the first admin with the setup code",
    description="Only while no user exists, with the one-time code a serving process logged at start "
    "(`/setup?code=...`): nobody who merely reaches the port can claim the library. Signs the new admin in.",
    opt=access("public"),
    request_max_body_size=64 * 1024,
    status_code=200,
    responses=errors(400, 403, 409, 413, 422, 429, 503),
)
async def setup(
    request: Request[Any, Any, Any], res: NamedDependency[Resources], data: JSONBody[Setup]
) -> Response[SessionOut]:
    signed_in = await accounts.complete_setup(res, data.code, data.username, data.password, client=_client(request))
    authenticator_of(request).forget()  # the library is not open any more
    return signed_in_response(res, signed_in)


# --- API keys -----------------------------------------------------------------------------------------------------


@get("/me/keys", summary="My API keys", opt=access("self"))
async def list_keys(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> ApiKeyList:
    user = SignedInUser.of(principal_of(request))
    return ApiKeyList(items=[_key_out(row) for row in await accounts.list_keys(res, user.id)])


@post(
    "/me/keys",
    summary="Create an API key",
    description="The key (`rb_...`) is in this answer only; it is stored as a hash. It acts as its user; an `upload` "
    "key may only upload images.",
    opt=access("self"),
    request_max_body_size=64 * 1024,
    status_code=201,
    responses=errors(400, 413),
)
async def create_key(
    request: Request[Any, Any, Any], res: NamedDependency[Resources], data: JSONBody[NewApiKey]
) -> CreatedApiKey:
    user = SignedInUser.of(principal_of(request))
    created = await accounts.create_key(res, user.id, data.name, data.scope)
    return CreatedApiKey(**msgspec.structs.asdict(_key_out(created.row)), key=created.key)


@delete("/me/keys/{key_id:str}", summary="Revoke an API key", opt=access("self"), responses=errors(404))
async def revoke_key(request: Request[Any, Any, Any], res: NamedDependency[Resources], key_id: KeyId) -> None:
    user = SignedInUser.of(principal_of(request))
    await accounts.revoke_key(res, user.id, _uuid(key_id, KeyNotFound))
    authenticator_of(request).forget()


# --- Users (admins) -----------------------------------------------------------------------------------------------


@get("/users", summary="List users", opt=access("admin"))
async def list_users(res: NamedDependency[Resources]) -> UserList:
    return UserList(items=[user_out(row) for row in await accounts.list_users(res)])


@post(
    "/users",
    summary="Create a user",
    description="`name`: 1-32 of letters, digits and `._-`, unique ignoring case (409 `user_exists`); `password`: "
    "10-256 characters (422 `invalid_password`).",
    opt=access("admin"),
    request_max_body_size=64 * 1024,
    status_code=201,
    responses=errors(400, 409, 413, 422),
)
async def create_user(
    request: Request[Any, Any, Any], res: NamedDependency[Resources], data: JSONBody[NewUser]
) -> User:
    user = await accounts.create_user(res, data.name, data.role, data.password)
    authenticator_of(request).forget()  # the library may have just stopped being open
    return user_out(user)


@patch(
    "/users/{user_id:str}",
    summary="Change a user",
    description="Rename, change role, disable or enable, reset the password. Disabling or a new password ends the "
    "user's sessions and keys at once, on every replica. The last active admin cannot be demoted or disabled (409 "
    "`last_admin`).",
    opt=access("admin"),
    request_max_body_size=64 * 1024,
    responses=errors(400, 404, 409, 413, 422),
)
async def update_user(
    request: Request[Any, Any, Any], res: NamedDependency[Resources], user_id: UserId, data: JSONBody[UserUpdate]
) -> User:
    change = accounts.UserChange(name=data.name, role=data.role, disabled=data.disabled, password=data.password)
    principal = principal_of(request)
    row = await accounts.update_user(res, _uuid(user_id, UserNotFound), change, keep_session=principal.session_hash)
    authenticator_of(request).forget()
    return user_out(row)


@delete(
    "/users/{user_id:str}",
    summary="Delete a user",
    description="Their sessions, keys and favourites go; their uploads stay, with `uploaded_by` null. The last active "
    "admin cannot be deleted (409 `last_admin`).",
    opt=access("admin"),
    responses=errors(404, 409),
)
async def delete_user(request: Request[Any, Any, Any], res: NamedDependency[Resources], user_id: UserId) -> None:
    await accounts.delete_user(res, _uuid(user_id, UserNotFound))
    authenticator_of(request).forget()


# --- Favourites ---------------------------------------------------------------------------------------------------


@put(
    "/images/{image_id:str}/favourite",
    summary="Mark an image as a favourite",
    opt=access("favourite"),
    status_code=204,
    responses=errors(404),
)
async def add_favourite(request: Request[Any, Any, Any], res: NamedDependency[Resources], image_id: ImageId) -> None:
    user = SignedInUser.of(principal_of(request))
    await favourites.set_favourite(res, user.id, parse_image_id(image_id), True)


@delete(
    "/images/{image_id:str}/favourite",
    summary="Unmark a favourite",
    opt=access("favourite"),
    responses=errors(404),
)
async def remove_favourite(request: Request[Any, Any, Any], res: NamedDependency[Resources], image_id: ImageId) -> None:
    user = SignedInUser.of(principal_of(request))
    await favourites.set_favourite(res, user.id, parse_image_id(image_id), False)
