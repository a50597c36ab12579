-- migrate:up
-- Search (README "Search"): compact forms of caption and filename with trigram indexes,
-- a denormalised tag list per image, per-tag counts, tag aliases and implications, use counts.
-- A managed PostgreSQL must allow pg_trgm, unaccent (0005) and fuzzystrmatch (typo-tolerant autocomplete).
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;

-- The compact form: unaccented, lowercased, only letters and digits ("Why not both?" -> "whynotboth"), because OCR
-- drops the spaces of upper-case captions. IMMUTABLE so it can be stored and indexed: the two-argument unaccent
-- with a schema-qualified dictionary does not depend on search_path. PostgreSQL 17+ has the builtin pg_c_utf8
-- collation, whose lower() and [:alnum:] know every script; before that, only punctuation, spaces and controls are
-- removed (letters of other scripts are kept, but lowercased only as far as the database collation knows them).
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 170000 THEN
        EXECUTE $f$
            CREATE FUNCTION reactbin_compact(value text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN regexp_replace(
                lower(public.unaccent('public.unaccent'::regdictionary, value) COLLATE pg_c_utf8),
                '[^[:alnum:]]+', '', 'g')
        $f$;
    ELSE
        EXECUTE $f$
            CREATE FUNCTION reactbin_compact(value text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN regexp_replace(
                lower(public.unaccent('public.unaccent'::regdictionary, value)),
                '[[:punct:][:space:][:cntrl:]\u00a0-\u00bf\u2000-\u206f\u3000-\u303f]+', '', 'g')
        $f$;
    END IF;
END
$$;

-- `kind` also arrives with 0006 (media); a database that never ran 0006 still gets the column `type:` filters on.
ALTER TABLE images ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'still'
    CHECK (kind IN ('still', 'animated', 'video'));

ALTER TABLE images
    ADD COLUMN text_compact text GENERATED ALWAYS AS (coalesce(reactbin_compact(text), '')) STORED,
    ADD COLUMN name_compact text GENERATED ALWAYS AS (coalesce(reactbin_compact(filename), '')) STORED,
    -- A copy of the image's tags (sorted), kept by the trigger below: one GIN index answers "has any of these
    -- tags" inside an OR with caption matches (a bitmap OR), which an EXISTS on image_tags cannot.
    ADD COLUMN tag_list text[] NOT NULL DEFAULT '{}',
    ADD COLUMN use_count integer NOT NULL DEFAULT 0 CHECK (use_count >= 0),
    ADD COLUMN last_used_at timestamptz;

UPDATE images i SET tag_list = ARRAY(SELECT t.tag FROM image_tags t WHERE t.image_id = i.id ORDER BY t.tag)
WHERE EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id);

-- Substring search (LIKE '%x%') and whole-caption equality never scan the table.
CREATE INDEX images_text_compact_trgm ON images USING gin (text_compact gin_trgm_ops);
CREATE INDEX images_name_compact_trgm ON images USING gin (name_compact gin_trgm_ops);
CREATE INDEX images_tag_list ON images USING gin (tag_list);
-- sort:popular with keyset cursors.
CREATE INDEX images_popular ON images (use_count DESC, created_at DESC, id DESC);

-- Every tag in use with its count: autocomplete reads this small table, never image_tags.
CREATE TABLE tags (
    name  text    PRIMARY KEY,
    count integer NOT NULL CHECK (count >= 0)
);
CREATE INDEX tags_name_prefix ON tags (name text_pattern_ops);
CREATE INDEX tags_name_trgm ON tags USING gin (name gin_trgm_ops);
INSERT INTO tags (name, count) SELECT tag, count(*) FROM image_tags GROUP BY tag;

-- Statement-level, so a bulk insert or a cascade delete costs one pass (plpgsql plans each branch on first use, so a
-- branch may name a transition table only its own operation has). Rows are touched in name/id order so two
-- transactions never lock the same rows in opposite orders.
CREATE FUNCTION reactbin_image_tags_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO tags (name, count)
        SELECT tag, count(*) FROM new_rows GROUP BY tag ORDER BY tag
        ON CONFLICT (name) DO UPDATE SET count = tags.count + excluded.count;
        UPDATE images i SET tag_list = ARRAY(SELECT t.tag FROM image_tags t WHERE t.image_id = i.id ORDER BY t.tag)
        WHERE i.id IN (SELECT DISTINCT image_id FROM new_rows ORDER BY 1);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE tags SET count = greatest(tags.count - d.n, 0)
        FROM (SELECT tag, count(*) AS n FROM old_rows GROUP BY tag ORDER BY tag) d
        WHERE tags.name = d.tag;
        UPDATE images i SET tag_list = ARRAY(SELECT t.tag FROM image_tags t WHERE t.image_id = i.id ORDER BY t.tag)
        WHERE i.id IN (SELECT DISTINCT image_id FROM old_rows ORDER BY 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER image_tags_inserted AFTER INSERT ON image_tags REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reactbin_image_tags_changed();
CREATE TRIGGER image_tags_deleted AFTER DELETE ON image_tags REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reactbin_image_tags_changed();
CREATE TRIGGER image_tags_updated AFTER UPDATE ON image_tags REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reactbin_image_tags_changed();
CREATE FUNCTION reactbin_image_tags_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tags;
    RETURN NULL;
END
$$;
CREATE TRIGGER image_tags_truncated AFTER TRUNCATE ON image_tags
    FOR EACH STATEMENT EXECUTE FUNCTION reactbin_image_tags_truncated();

-- Tag rules. Both sides are canonical tags: an alias never appears in image_tags nor in an implication (writes
-- rewrite them), and every rule write holds one advisory lock, so the cycle checks hold across replicas.
CREATE TABLE tag_aliases (
    alias      text        PRIMARY KEY,
    tag        text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (alias <> tag)
);
CREATE INDEX tag_aliases_tag ON tag_aliases (tag);
CREATE INDEX tag_aliases_alias_trgm ON tag_aliases USING gin (alias gin_trgm_ops);

CREATE TABLE tag_implications (
    tag        text        NOT NULL,
    implies    text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tag, implies),
    CHECK (tag <> implies)
);
CREATE INDEX tag_implications_implies ON tag_implications (implies);

-- migrate:down
DROP TABLE tag_implications;
DROP TABLE tag_aliases;
DROP TRIGGER image_tags_truncated ON image_tags;
DROP FUNCTION reactbin_image_tags_truncated();
DROP TRIGGER image_tags_updated ON image_tags;
DROP TRIGGER image_tags_deleted ON image_tags;
DROP TRIGGER image_tags_inserted ON image_tags;
DROP FUNCTION reactbin_image_tags_changed();
DROP TABLE tags;
DROP INDEX images_popular;
ALTER TABLE images
    DROP COLUMN last_used_at, DROP COLUMN use_count, DROP COLUMN tag_list, DROP COLUMN name_compact,
    DROP COLUMN text_compact;
DROP FUNCTION reactbin_compact(text);
