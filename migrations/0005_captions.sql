-- migrate:up
-- Caption text: recognised in the background (OCR job) or set by hand, and the extensions search uses.
-- A managed PostgreSQL must allow pg_trgm and unaccent (both ship in PostgreSQL's contrib).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- text_status: pending (not read yet), done (text found or set by hand), none (read, no text), failed.
-- text_source: who wrote `text`; OCR never overwrites 'manual'.
ALTER TABLE images
    ADD COLUMN text        text,
    ADD COLUMN text_status text NOT NULL DEFAULT 'pending'
        CHECK (text_status IN ('pending', 'done', 'failed', 'none')),
    ADD COLUMN text_source text CHECK (text_source IN ('ocr', 'manual'));

-- migrate:down
ALTER TABLE images DROP COLUMN text_source, DROP COLUMN text_status, DROP COLUMN text;
