-- migrate:up
-- Near-duplicates (DESIGN "Near-duplicates and readable captions (v4)"): a 64-bit perceptual hash (pHash of the
-- thumbnail, media/perceptual.py) per image, found by Hamming distance through multi-index hashing, and each
-- image's neighbours kept in `image_similar`, so reading them is one index lookup.
--
-- Measured at 1,000,000 hashes (docs/benchmarks.md, "Near-duplicates"): pgvector's HNSW `bit_hamming_ops` took
-- 16 minutes and 310 MB to build and found 90-93% of the neighbours within 10 bits; multi-index hashing (the 64
-- bits as four 16-bit chunks in btrees: a hash within 10 bits has some chunk within 2 bits of the query's)
-- builds in seconds, is exact, and needs no extension.

-- phash: the 64 bits as a signed bigint; null until hashed, and for images whose thumbnail could not be hashed
-- (they have no similar images). phash_indexed: hashed (or found unhashable) and its neighbours recorded; rows
-- older than this migration are done by `reactbin reindex --media`.
ALTER TABLE images
    ADD COLUMN phash         bigint,
    ADD COLUMN phash_indexed boolean NOT NULL DEFAULT false;

-- Not partial: the planner estimates `chunk = ANY(...)` from these indexes' statistics only without a predicate
-- (with one it guessed a third of the table and read it all).
CREATE INDEX images_phash_0 ON images (((phash >> 48) & 65535));
CREATE INDEX images_phash_1 ON images (((phash >> 32) & 65535));
CREATE INDEX images_phash_2 ON images (((phash >> 16) & 65535));
CREATE INDEX images_phash_3 ON images ((phash & 65535));

-- Both directions of every pair within the duplicate distance (media/perceptual.py DUPLICATE_DISTANCE). Whether a
-- pair is a `duplicate` or a `template` is decided when read, from the captions as they are then.
CREATE TABLE image_similar (
    image_id uuid     NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    other_id uuid     NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    distance smallint NOT NULL CHECK (distance BETWEEN 0 AND 64),
    PRIMARY KEY (image_id, other_id),
    CHECK (image_id <> other_id)
);
CREATE INDEX image_similar_other_id ON image_similar (other_id);

-- `reindex --media` and fsck find the rows that still need work (now also: not hashed yet) without a scan.
DROP INDEX images_media_pending;
CREATE INDEX images_media_pending ON images (id)
    WHERE NOT media_indexed OR placeholder IS NULL OR (kind <> 'still' AND preview_key IS NULL) OR NOT phash_indexed;

-- migrate:down
DROP INDEX images_media_pending;
CREATE INDEX images_media_pending ON images (id)
    WHERE NOT media_indexed OR placeholder IS NULL OR (kind <> 'still' AND preview_key IS NULL);
DROP TABLE image_similar;
DROP INDEX images_phash_3;
DROP INDEX images_phash_2;
DROP INDEX images_phash_1;
DROP INDEX images_phash_0;
ALTER TABLE images DROP COLUMN phash_indexed, DROP COLUMN phash;
