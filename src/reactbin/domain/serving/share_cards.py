"""What a chat unfurl shows of an image, served from memory while the image provably still exists.

A share page is fetched by every chat client a link is pasted into, often in bursts. Its card holds only what no
write changes (name, type, size, object keys), so a card stays right for as long as the image exists; whether it
still exists comes from the content index, which LISTEN/NOTIFY keeps right across processes and replicas (see
`serving.index`). Cards are used only while the index vouches for their image, so a deleted image's page is a 404
at once everywhere.
"""

from __future__ import annotations

import uuid

from reactbin.db import images as db
from reactbin.domain.resources import Resources
from reactbin.domain.serving.caches import ShareCard
from reactbin.errors import ImageNotFound


async def share_card(res: Resources, image_id: uuid.UUID) -> ShareCard:
    """The card of an image: from memory when the content index vouches for it, else from the database.

    Raises:
        ImageNotFound: no such image.
    """
    row = res.index.get(image_id)
    if row is not None:
        card = res.share_cards.get(image_id)
        if card is not None and (card.storage_key, card.thumbnail_key) == (row.storage_key, row.thumbnail_key):
            return card
    generation = res.index.generation
    async with res.db() as conn:
        image = await db.get_image(conn, image_id)
        content = await db.get_content(conn, image_id) if image is not None else None
    if image is None or content is None:
        raise ImageNotFound()
    card = ShareCard(
        id=image.id,
        filename=image.filename,
        mime_type=image.mime_type,
        width=image.width,
        height=image.height,
        storage_key=image.storage_key,
        thumbnail_key=image.thumbnail_key,
        text=image.text,
    )
    res.index.put(image_id, content, generation)
    res.share_cards.put(card.id, card)
    return card
