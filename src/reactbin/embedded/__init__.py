"""The embedded PostgreSQL that `reactbin dev` runs as a local child process (tests start it too)."""

from reactbin.embedded.postgres import EmbeddedPostgres, EmbeddedPostgresError

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError"]
