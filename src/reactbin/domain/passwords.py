"""Password hashing: argon2id through argon2-cffi, at parameters measured in bench/ (see README "Accounts").

Hashing is CPU- and memory-bound on purpose: callers run it on the CPU threads (`Resources.run_cpu`), never on the
event loop.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from reactbin.errors import InvalidPassword

MIN_LENGTH = 10
MAX_LENGTH = 256

# OWASP's first argon2id recommendation (19 MiB, 2 passes, 1 lane): about 25-40 ms and 19 MiB per sign-in here
# (bench/ "auth"), so a burst of sign-ins on a small server neither stalls it nor runs it out of memory. argon2-cffi's
# own default (64 MiB, 3 passes, 4 lanes) cost 3.5x the memory for each concurrent sign-in.
TIME_COST = 2
MEMORY_KIB = 19 * 1024
PARALLELISM = 1

_HASHER = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM, type=Type.ID)


def check_rule(password: str) -> None:
    """Refuse a password outside the rules before any hashing (a 10 KB password is never hashed).

    Raises:
        InvalidPassword: too short, too long, or with a NUL character.
    """
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH or "\x00" in password:
        raise InvalidPassword()


def hash_password(password: str) -> str:
    """The PHC string (`$argon2id$v=19$m=...`) of a password that passed `check_rule`."""
    return _HASHER.hash(password)


class Verified:
    """The outcome of a check: whether it matched, and whether the stored hash should be redone."""

    __slots__ = ("matches", "rehash")

    def __init__(self, matches: bool, rehash: bool) -> None:
        self.matches = matches
        self.rehash = rehash


def verify_password(stored: str | None, password: str) -> Verified:
    """Check `password` against a stored hash; with no hash (unknown user, OIDC-only user) a dummy hash is checked
    instead, so every failure costs the same time."""
    if stored is None or len(password) > MAX_LENGTH:
        # Unknown users cost one hash like known ones; an over-long password is refused without hashing it, for
        # everyone alike, so its timing says nothing about the user.
        if len(password) <= MAX_LENGTH:
            _verify(_dummy_hash(), password)
        return Verified(False, False)
    if not _verify(stored, password):
        return Verified(False, False)
    return Verified(True, _HASHER.check_needs_rehash(stored))


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("reactbin-no-such-user-password")
