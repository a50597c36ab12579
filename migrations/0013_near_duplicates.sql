-- migrate:up
-- Near-duplicates (DESIGN "Near-duplicates and readable captions (v4)"): a 64-bit perceptual hash (pHash of the
-- thumbnail, media/perceptual.py) per image, searched by Hamming distance through pgvector's HNSW index on the
-- `bit` type (chosen over multi-index hashing by measurement at 1,000,000 hashes: docs/benchmarks.md).
-- A managed PostgreSQL must allow the `vector` extension (pgvector 0.7+; the embedded PostgreSQL ships 0.8).
CREATE EXTENSION IF NOT EXISTS vector;

-- phash: null until hashed, and for images whose thumbnail could not be hashed (they have no similar images).
-- phash_indexed: hashing was tried; rows older than this migration are hashed by `reactbin reindex --media`.
ALTER TABLE images
    ADD COLUMN phash         bit(64),
    ADD COLUMN phash_indexed boolean NOT NULL DEFAULT false;

CREATE INDEX images_phash ON images USING hnsw (phash bit_hamming_ops);

-- `reindex --media` and fsck find the rows that still need work (now also: not hashed yet) without a scan.
DROP INDEX images_media_pending;
CREATE INDEX images_media_pending ON images (id)
    WHERE NOT media_indexed OR placeholder IS NULL OR (kind <> 'still' AND preview_key IS NULL) OR NOT phash_indexed;

-- migrate:down
DROP INDEX images_media_pending;
CREATE INDEX images_media_pending ON images (id)
    WHERE NOT media_indexed OR placeholder IS NULL OR (kind <> 'still' AND preview_key IS NULL);
DROP INDEX images_phash;
ALTER TABLE images DROP COLUMN phash_indexed, DROP COLUMN phash;
