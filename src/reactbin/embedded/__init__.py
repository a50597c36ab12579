"""Real PostgreSQL and S3 (SeaweedFS) servers run as local child processes, for ``reactbin dev`` and the tests."""

from reactbin.embedded.postgres import EmbeddedPostgres, EmbeddedPostgresError
from reactbin.embedded.seaweedfs import EmbeddedSeaweedFS, EmbeddedSeaweedFSError

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "EmbeddedSeaweedFS", "EmbeddedSeaweedFSError"]
