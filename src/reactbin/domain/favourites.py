"""Favourites: each user's own marks on images (`is:fav` finds them)."""

from __future__ import annotations

import uuid

from reactbin.db import accounts as db
from reactbin.domain.resources import Resources
from reactbin.errors import ImageNotFound


async def set_favourite(res: Resources, user_id: uuid.UUID, image_id: uuid.UUID, favourite: bool) -> None:
    """Mark or unmark; doing it twice is the same as once.

    Raises:
        ImageNotFound: no such image.
    """
    async with res.db() as conn:
        if favourite:
            exists = await db.add_favourite(conn, user_id, image_id)
        else:
            exists = await db.remove_favourite(conn, user_id, image_id)
    if not exists:
        raise ImageNotFound()


async def favourites_among(res: Resources, user_id: uuid.UUID | None, image_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these images the user marked (none for anonymous requests and tokens, without a query)."""
    if user_id is None or not image_ids:
        return set()
    async with res.db() as conn:
        return await db.favourites_among(conn, user_id, image_ids)
