-- migrate:up
-- Media kinds, previews and placeholders (the image fields kind, duration_ms, frame_count, has_audio,
-- preview_url and placeholder; README "API").
-- kind/duration_ms/frame_count/has_audio are probed from the bytes at upload. Rows that existed before this
-- migration were never probed: media_indexed stays false until `reactbin reindex --media` has looked at them.
-- preview_*: the looping animated WebP of an animation or video (null for stills, and until it is made or when
-- making it failed; `reactbin fsck --repair` retries). placeholder: a ThumbHash, base64.
ALTER TABLE images
    ADD COLUMN kind                text    NOT NULL DEFAULT 'still' CHECK (kind IN ('still', 'animated', 'video')),
    ADD COLUMN duration_ms         integer CHECK (duration_ms >= 0),
    ADD COLUMN frame_count         integer CHECK (frame_count >= 1),
    ADD COLUMN has_audio           boolean NOT NULL DEFAULT false,
    ADD COLUMN media_indexed       boolean NOT NULL DEFAULT false,
    ADD COLUMN preview_key         text,
    ADD COLUMN preview_hash        text,
    ADD COLUMN preview_size_bytes  bigint,
    ADD COLUMN placeholder         text,
    ADD CHECK ((preview_key IS NULL) = (preview_hash IS NULL) AND (preview_key IS NULL) = (preview_size_bytes IS NULL));

-- `reindex --media` and fsck find the rows that still need work without scanning the others.
CREATE INDEX images_media_pending ON images (id)
    WHERE NOT media_indexed OR placeholder IS NULL OR (kind <> 'still' AND preview_key IS NULL);

-- migrate:down
DROP INDEX images_media_pending;
ALTER TABLE images
    DROP COLUMN placeholder, DROP COLUMN preview_size_bytes, DROP COLUMN preview_hash, DROP COLUMN preview_key,
    DROP COLUMN media_indexed, DROP COLUMN has_audio, DROP COLUMN frame_count, DROP COLUMN duration_ms,
    DROP COLUMN kind;
