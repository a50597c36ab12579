-- migrate:up
-- Search at a million images (docs/benchmarks.md, "Search at scale"): relevance's first tier asks for images whose
-- whole caption is the query (`text_compact = 'happy'`). The trigram index answers that only by rechecking every
-- caption that shares the word's trigrams; a hash index answers it exactly, for captions of any length (a btree
-- refuses entries over a third of a page). Images without a caption (a third of a library, and every new upload until
-- OCR has read it) are left out: one hash value repeated that often makes a long overflow chain that every insert
-- walks.
CREATE INDEX images_text_compact_eq ON images USING hash (text_compact) WHERE text_compact <> '';

-- migrate:down
DROP INDEX images_text_compact_eq;
