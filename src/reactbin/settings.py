"""Settings built once from the environment and passed down; nothing reads the environment at import.

Thumbnail jobs (see `reactbin.worker`):

- `RUN_WORKER` (`true`/`false`, default `true`): `reactbin serve`/`dev` also run a job worker in-process.
- `WORKER_CONCURRENCY` (default 2): jobs one worker process runs at once (`reactbin worker --concurrency`).
- `JOB_TTL` (default `7d`): how long a finished job, its thumbnail and its queue log stay; seconds, or a
  number with `s`, `m`, `h` or `d`, e.g. `3600`, `90s`, `15m`, `12h`, `7d`.
- `JOB_MAX_ATTEMPTS` (default 3): attempts before a job fails for good. A thumbnail job counts its starts (a
  crashed worker's start included: its decode runs in the worker); OCR and media jobs count only attempts that
  failed on their own (a timeout, a crashed OCR process, storage errors), never a start lost with its worker.
- `JOB_RETRY_DELAY` (seconds, default 2): first back-off after a transient failure; doubles per attempt.
- `JOB_HEARTBEAT_TIMEOUT` (seconds, default 5): a started job whose worker stops beating this long is
  taken over by another worker.
- `JOB_POLL_INTERVAL` (seconds, default 5): how often an idle worker looks for such jobs (new jobs wake it
  at once through LISTEN/NOTIFY).

Caption text (OCR jobs, see `reactbin.media.ocr`):

- `RUN_OCR` (`true`/`false`, default `true`): this process's job worker also reads caption text. An API
  process that runs no worker (or runs one with `RUN_OCR=false`) never loads the OCR model.
- `OCR_TIMEOUT` (seconds, default 30): time limit of one image's OCR read; past it the read is a failed attempt
  (tried again up to `JOB_MAX_ATTEMPTS`, then the image's `text_status` is `failed`).
- `OCR_THREADS` (default 1): onnxruntime threads of the worker's OCR process (it reads one image at a time). On 2
  shared cores one thread read an image for half the CPU time of two (onnxruntime's threads spin while they wait).
- `OCR_FRAMES` (default 3): frames sampled from an animation; their text is merged.

Chat commands (see `reactbin.integrations`); each is on when its key or secret is set:

- `DISCORD_PUBLIC_KEY`: the Discord application's Ed25519 public key (64 hex characters) that signs interactions.
- `DISCORD_APPLICATION_ID`, `DISCORD_BOT_TOKEN`: only `reactbin discord register` uses them.
- `DISCORD_API_URL` (default `https://discord.com/api/v10`): where `register` sends the command.
- `SLACK_SIGNING_SECRET`: the Slack app's signing secret.
- `SLACK_RESPONSE_HOSTS` (default `hooks.slack.com`): the only hosts (`host` or `host:port`) a button's
  `response_url` may point at.

Posts need absolute public URLs: with an integration on, `PUBLIC_URL` or `S3_PUBLIC_BASE_URL` is required.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

import msgspec

T = TypeVar("T")

DISCORD_API_URL = "https://discord.com/api/v10"


class ConfigError(Exception):
    """An invalid or missing setting; the message names the variable."""


class S3Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Connection settings of an S3-compatible store (AWS, Cloudflare R2, SeaweedFS, MinIO)."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_pool_connections: int = 32


class RateLimit(msgspec.Struct, frozen=True):
    """At most `requests` per `seconds`-long window and client."""

    requests: int
    seconds: int


class OidcSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Sign-in through an OpenID Connect provider (`OIDC_*`)."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    default_role: Literal["admin", "member", "viewer"] = "member"
    admin_group: str | None = None
    """A value of the ID token's `groups` claim that makes the user an admin."""
    name: str = "OpenID Connect"
    """What the sign-in button says: "Sign in with <name>" (`OIDC_NAME`)."""
    timeout: float = 5.0


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the service needs to run, validated."""

    database_url: str | None = None
    storage_backend: Literal["filesystem", "s3"] = "filesystem"
    storage_dir: Path = Path("data/objects")
    s3: S3Settings | None = None
    public_base_url: str | None = None
    public_url: str | None = None
    """The service's externally visible origin (`PUBLIC_URL`), for absolute links in share pages, oEmbed and ShareX."""
    max_upload_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 64_000_000
    max_video_seconds: float = 60.0
    db_pool_max: int = 20
    db_connect_timeout: float = 5.0
    db_command_timeout: float = 10.0
    ui_dir: Path | None = None
    cache_bytes: int = 64 * 1024 * 1024
    run_worker: bool = True
    worker_concurrency: int = 2
    job_ttl: float = 7 * 24 * 3600.0
    job_max_attempts: int = 3
    job_retry_delay: float = 2.0
    job_heartbeat_timeout: float = 5.0
    job_poll_interval: float = 5.0
    api_tokens: tuple[str, ...] = ()
    upload_rate_limit: RateLimit | None = None
    use_rate_limit: RateLimit | None = None
    rate_limit_store: Literal["memory", "postgres"] = "memory"
    shutdown_grace: float = 30.0
    run_ocr: bool = True
    ocr_timeout: float = 30.0
    ocr_threads: int = 1
    ocr_frames: int = 3
    access_log: bool = False
    metrics: bool = True
    log_format: Literal["text", "json"] = "text"
    public_read: bool = True
    """Once a user exists, anonymous requests may still read (`PUBLIC_READ`); false makes every read need a user."""
    session_ttl: float = 30 * 24 * 3600.0
    """A session unused this long (`SESSION_TTL`) is signed out."""
    oidc: OidcSettings | None = None
    auth_cache: bool = True
    """Keep looked-up credentials for a few seconds per process (`AUTH_CACHE`), invalidated across replicas by
    LISTEN/NOTIFY; false looks every credential up per request (what bench/ compares it with)."""
    discord_public_key: str | None = None
    discord_application_id: str | None = None
    discord_bot_token: str | None = None
    discord_api_url: str = DISCORD_API_URL
    slack_signing_secret: str | None = None
    slack_response_hosts: tuple[str, ...] = ("hooks.slack.com",)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables.

        Raises:
            ConfigError: naming the first variable that is invalid.
        """
        env = os.environ if env is None else env
        reader = _EnvReader(env)
        backend = reader.get("STORAGE_BACKEND", "filesystem").lower()
        if backend not in ("filesystem", "s3"):
            raise ConfigError(f"STORAGE_BACKEND must be 'filesystem' or 's3', got {backend!r}")
        s3 = None
        if backend == "s3":
            bucket = reader.get("S3_BUCKET_NAME", "")
            if not bucket:
                raise ConfigError("S3_BUCKET_NAME is required when STORAGE_BACKEND=s3")
            endpoint = reader.get("S3_ENDPOINT_URL", "") or None
            if endpoint is not None:
                _require_http_url("S3_ENDPOINT_URL", endpoint)
            access_key = reader.get("S3_ACCESS_KEY_ID", "") or None
            secret_key = reader.get("S3_SECRET_ACCESS_KEY", "") or None
            if (access_key is None) != (secret_key is None):
                raise ConfigError("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together")
            s3 = S3Settings(
                bucket=bucket,
                endpoint_url=endpoint,
                region=reader.get("S3_REGION", "us-east-1"),
                access_key_id=access_key,
                secret_access_key=secret_key,
                connect_timeout=reader.number("S3_CONNECT_TIMEOUT", 2.0, float, minimum=0.1),
                read_timeout=reader.number("S3_READ_TIMEOUT", 5.0, float, minimum=0.1),
                max_pool_connections=reader.number("S3_MAX_POOL_CONNECTIONS", 32, int, minimum=1),
            )
        public_base = reader.get("S3_PUBLIC_BASE_URL", "") or None
        if public_base is not None:
            _require_http_url("S3_PUBLIC_BASE_URL", public_base)
            public_base = public_base.rstrip("/")
        public_url = reader.get("PUBLIC_URL", "") or None
        if public_url is not None:
            public_url = _origin("PUBLIC_URL", public_url)
        database_url = reader.get("DATABASE_URL", "") or None
        if database_url is not None and urlsplit(database_url).scheme not in ("postgres", "postgresql"):
            raise ConfigError("DATABASE_URL must be a postgresql:// URL")
        ui_dir = reader.get("UI_DIR", "")
        discord_public_key = _discord_public_key(reader.get("DISCORD_PUBLIC_KEY", ""))
        slack_signing_secret = reader.get("SLACK_SIGNING_SECRET", "") or None
        integrations = {"DISCORD_PUBLIC_KEY": discord_public_key, "SLACK_SIGNING_SECRET": slack_signing_secret}
        for name, configured in integrations.items():
            if configured and public_url is None and public_base is None:
                raise ConfigError(
                    f"PUBLIC_URL (or S3_PUBLIC_BASE_URL) must be set when {name} is: chat posts need absolute URLs"
                )
        discord_api_url = reader.get("DISCORD_API_URL", "") or DISCORD_API_URL
        _require_http_url("DISCORD_API_URL", discord_api_url)
        return cls(
            database_url=database_url,
            storage_backend="s3" if backend == "s3" else "filesystem",
            storage_dir=Path(reader.get("STORAGE_DIR", "data/objects")),
            s3=s3,
            public_base_url=public_base,
            public_url=public_url,
            max_upload_bytes=reader.number("MAX_UPLOAD_BYTES", 50 * 1024 * 1024, int, minimum=1),
            max_image_pixels=reader.number("MAX_IMAGE_PIXELS", 64_000_000, int, minimum=1),
            max_video_seconds=reader.number("MAX_VIDEO_SECONDS", 60.0, float, minimum=0.1),
            db_pool_max=reader.number("DB_POOL_MAX", 20, int, minimum=1),
            db_connect_timeout=reader.number("DB_CONNECT_TIMEOUT", 5.0, float, minimum=0.1),
            db_command_timeout=reader.number("DB_COMMAND_TIMEOUT", 10.0, float, minimum=0.1),
            ui_dir=Path(ui_dir) if ui_dir else None,
            cache_bytes=reader.number("CACHE_BYTES", 64 * 1024 * 1024, int, minimum=0),
            run_worker=reader.boolean("RUN_WORKER", True),
            worker_concurrency=reader.number("WORKER_CONCURRENCY", 2, int, minimum=1),
            job_ttl=reader.duration("JOB_TTL", 7 * 24 * 3600.0),
            job_max_attempts=reader.number("JOB_MAX_ATTEMPTS", 3, int, minimum=1),
            job_retry_delay=reader.number("JOB_RETRY_DELAY", 2.0, float, minimum=0),
            job_heartbeat_timeout=reader.number("JOB_HEARTBEAT_TIMEOUT", 5.0, float, minimum=1),
            job_poll_interval=reader.number("JOB_POLL_INTERVAL", 5.0, float, minimum=0.1),
            api_tokens=_tokens(reader.get("API_TOKENS", "")),
            upload_rate_limit=_rate_limit(reader.get("RATE_LIMIT_UPLOADS", "60/minute")),
            use_rate_limit=_rate_limit(reader.get("RATE_LIMIT_USES", "120/minute"), "RATE_LIMIT_USES"),
            rate_limit_store=_rate_limit_store(reader.get("RATE_LIMIT_STORE", "memory")),
            shutdown_grace=reader.number("SHUTDOWN_GRACE_SECONDS", 30.0, float, minimum=0),
            access_log=reader.boolean("ACCESS_LOG", False),
            metrics=reader.boolean("METRICS", True),
            log_format=_log_format(reader.get("LOG_FORMAT", "text")),
            run_ocr=reader.boolean("RUN_OCR", True),
            ocr_timeout=reader.number("OCR_TIMEOUT", 30.0, float, minimum=0.01),
            ocr_threads=reader.number("OCR_THREADS", 1, int, minimum=1),
            ocr_frames=reader.number("OCR_FRAMES", 3, int, minimum=1),
            public_read=reader.boolean("PUBLIC_READ", True),
            session_ttl=reader.duration("SESSION_TTL", 30 * 24 * 3600.0),
            oidc=_oidc(reader),
            auth_cache=reader.boolean("AUTH_CACHE", True),
            discord_public_key=discord_public_key,
            discord_application_id=_discord_application_id(reader.get("DISCORD_APPLICATION_ID", "")),
            discord_bot_token=reader.get("DISCORD_BOT_TOKEN", "") or None,
            discord_api_url=discord_api_url.rstrip("/"),
            slack_signing_secret=slack_signing_secret,
            slack_response_hosts=_hosts("SLACK_RESPONSE_HOSTS", reader.get("SLACK_RESPONSE_HOSTS", "hooks.slack.com")),
        )

    def with_database_url(self, url: str) -> Settings:
        """Return a copy pointing at another database (used by `reactbin dev`)."""
        return msgspec.structs.replace(self, database_url=url)


class _EnvReader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def get(self, name: str, default: str) -> str:
        return self._env.get(name, default).strip()

    def number(self, name: str, default: T, kind: Callable[[str], T], *, minimum: float) -> T:
        raw = self.get(name, "")
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if value < minimum:  # type: ignore[operator]
            raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.get(name, "").lower()
        if not raw:
            return default
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")

    def duration(self, name: str, default: float) -> float:
        """Seconds, from `3600`, `90s`, `15m`, `12h` or `7d`."""
        raw = self.get(name, "").lower()
        if not raw:
            return default
        match = _DURATION.match(raw)
        if match is None or float(match[1]) <= 0:
            raise ConfigError(f"{name} must be a positive duration such as 3600, 90s, 15m, 12h or 7d, got {raw!r}")
        return float(match[1]) * _UNIT_SECONDS[match[2] or "s"]


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def _rate_limit(raw: str, name: str = "RATE_LIMIT_UPLOADS") -> RateLimit | None:
    if raw.lower() in ("0", "off", "none", ""):
        return None
    count, _, period = raw.partition("/")
    if not count.strip().isdigit() or int(count) < 1 or period.strip().lower() not in _PERIODS:
        raise ConfigError(f"{name} must look like 60/minute (second, minute, hour, day) or 0, got {raw!r}")
    return RateLimit(int(count), _PERIODS[period.strip().lower()])


def _rate_limit_store(raw: str) -> Literal["memory", "postgres"]:
    if raw.lower() == "memory":
        return "memory"
    if raw.lower() == "postgres":
        return "postgres"
    raise ConfigError(f"RATE_LIMIT_STORE must be 'memory' or 'postgres', got {raw!r}")


def _log_format(raw: str) -> Literal["text", "json"]:
    if raw.lower() == "text":
        return "text"
    if raw.lower() == "json":
        return "json"
    raise ConfigError(f"LOG_FORMAT must be 'text' or 'json', got {raw!r}")


def _tokens(raw: str) -> tuple[str, ...]:
    tokens = tuple(token.strip() for token in raw.split(",") if token.strip())
    if any(len(token) < 16 for token in tokens):
        raise ConfigError("API_TOKENS must be comma-separated tokens of at least 16 characters")
    return tokens


def _oidc(reader: _EnvReader) -> OidcSettings | None:
    issuer = reader.get("OIDC_ISSUER", "")
    client_id = reader.get("OIDC_CLIENT_ID", "")
    if not issuer and not client_id:
        return None
    if not issuer:
        raise ConfigError("OIDC_ISSUER is required when OIDC_CLIENT_ID is set")
    if not client_id:
        raise ConfigError("OIDC_CLIENT_ID is required when OIDC_ISSUER is set")
    _require_http_url("OIDC_ISSUER", issuer)
    role = reader.get("OIDC_DEFAULT_ROLE", "member").lower()
    if role not in ("admin", "member", "viewer"):
        raise ConfigError(f"OIDC_DEFAULT_ROLE must be admin, member or viewer, got {role!r}")
    return OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=reader.get("OIDC_CLIENT_SECRET", "") or None,
        default_role=role,  # type: ignore[arg-type]
        admin_group=reader.get("OIDC_ADMIN_GROUP", "") or None,
        name=reader.get("OIDC_NAME", "") or "OpenID Connect",
        timeout=reader.number("OIDC_TIMEOUT", 5.0, float, minimum=0.1),
    )


def _discord_public_key(raw: str) -> str | None:
    if not raw:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", raw):
        raise ConfigError("DISCORD_PUBLIC_KEY must be the application's public key: 64 hex characters")
    return raw.lower()


def _discord_application_id(raw: str) -> str | None:
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 20:
        raise ConfigError("DISCORD_APPLICATION_ID must be the application's id (digits)")
    return raw


_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?::\d{1,5})?$")


def _hosts(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated `host` or `host:port` entries, lowercased."""
    hosts = tuple(host.strip().lower() for host in raw.split(",") if host.strip())
    if not hosts or not all(_HOST.match(host) for host in hosts):
        raise ConfigError(f"{name} must be comma-separated host names, each optionally with :port, got {raw!r}")
    return hosts


def _require_http_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL")


def _origin(name: str, value: str) -> str:
    """An origin such as `https://reactbin.example.com` (a trailing slash is dropped; nothing else may follow)."""
    _require_http_url(name, value)
    parts = urlsplit(value)
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"{name} must be an origin like https://reactbin.example.com (no path, query or user)")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"{name} has an invalid port") from None
    return f"{parts.scheme}://{parts.netloc}".lower()
