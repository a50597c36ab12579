-- migrate:up
-- Autocomplete, cheap at every keystroke (reactbin.domain.chat.choices, GET /tags?q=).

-- The tag trigram indexes take new entries straight into the index, not into a pending list: every search through
-- a GIN index reads its whole pending list, and a tag table refilled by uploads and count updates kept ~90 pages
-- of it between vacuums (measured: the typo-tolerant look took 8.4 ms with them, 0.5 ms without). The tables
-- are small, so each insert pays little for it.
ALTER INDEX tags_name_trgm SET (fastupdate = off);
ALTER INDEX tag_aliases_alias_trgm SET (fastupdate = off);
SELECT gin_clean_pending_list('tags_name_trgm'::regclass), gin_clean_pending_list('tag_aliases_alias_trgm'::regclass);

-- Chat autocomplete (reactbin.db.chat.caption_completions) asks this for text too rare to fill its list from the
-- newest images: captions holding the compact text, through the trigram index alone. The planner misjudges how
-- many captions hold a substring (6x off at a million), and a table scan or a walk of an order index for rare text
-- reads the whole table; the function's SET clauses exclude both while it runs (and only then), in one round trip.
CREATE FUNCTION reactbin_captions_holding(typed text, wanted integer)
    RETURNS TABLE (caption text, rank integer)
    LANGUAGE sql STABLE
    SET enable_seqscan = off
    SET enable_indexscan = off
AS $$
    SELECT i.text, CASE WHEN i.text_compact = t.c THEN 0 WHEN starts_with(i.text_compact, t.c) THEN 1 ELSE 2 END
    FROM (SELECT reactbin_compact(typed) AS c) t JOIN images i ON i.text_compact LIKE '%' || t.c || '%'
    WHERE length(t.c) >= 3 AND i.text IS NOT NULL
    LIMIT wanted
$$;

-- Typo-tolerant tag suggestions (reactbin.db.search.similar_tags): tags and aliases that start with what was typed,
-- are within `max_distance` edits of it, or are trigram-similar (0.4 and up); prefix hits first, then the closest,
-- then the most used. Candidates come from three cheap looks: the prefix, the trigram index at a similarity of
-- 0.35 (a lower one makes the index read most of its lists: `hap` shares `  h` and ` ha` with hundreds of tags),
-- and the edit distance to the names whose length is within `max_distance` of the typed word's (an index on the
-- length; no trigram in common needed: `daay` -> `any`). Without the SET clause the planner may compute the similarity of every tag in a table scan
-- (~5 ms at 5,000 tags, measured) instead of asking the index (~0.1 ms).
CREATE INDEX tags_name_length ON tags (length(name));
CREATE INDEX tag_aliases_alias_length ON tag_aliases (length(alias));
CREATE FUNCTION reactbin_similar_tags(typed text, pattern text, max_distance integer, wanted integer)
    RETURNS TABLE (name text, count integer, tag text)
    LANGUAGE sql STABLE
    SET enable_seqscan = off
    SET pg_trgm.similarity_threshold = 0.35
AS $$
    WITH candidates AS (
        SELECT t.name, t.count, NULL::text AS tag FROM tags t
        WHERE t.count > 0 AND (t.name LIKE pattern || '%' OR t.name % typed)
        UNION
        SELECT t.name, t.count, NULL FROM tags t
        WHERE t.count > 0 AND length(t.name) BETWEEN length(typed) - max_distance AND length(typed) + max_distance
          AND levenshtein_less_equal(t.name, typed, max_distance) <= max_distance
        UNION
        SELECT a.alias, coalesce(t.count, 0), a.tag FROM tag_aliases a LEFT JOIN tags t ON t.name = a.tag
        WHERE a.alias LIKE pattern || '%' OR a.alias % typed
           OR (length(a.alias) BETWEEN length(typed) - max_distance AND length(typed) + max_distance
               AND levenshtein_less_equal(a.alias, typed, max_distance) <= max_distance)
    ), scored AS (
        SELECT c.name, c.count, c.tag,
               CASE WHEN c.name LIKE pattern || '%' THEN 0 ELSE 1 END AS tier,
               CASE WHEN abs(length(c.name) - length(typed)) <= max_distance
                    THEN levenshtein_less_equal(c.name, typed, max_distance) ELSE max_distance + 1 END AS distance,
               similarity(c.name, typed) AS similarity
        FROM candidates c
    )
    SELECT s.name, s.count, s.tag FROM scored s
    WHERE s.tier = 0 OR s.distance <= max_distance OR s.similarity >= 0.4
    ORDER BY s.tier, s.distance, s.similarity DESC, s.count DESC, s.name
    LIMIT wanted
$$;

-- migrate:down
ALTER INDEX tag_aliases_alias_trgm RESET (fastupdate);
ALTER INDEX tags_name_trgm RESET (fastupdate);
DROP FUNCTION reactbin_similar_tags(text, text, integer, integer);
DROP INDEX tag_aliases_alias_length;
DROP INDEX tags_name_length;
DROP FUNCTION reactbin_captions_holding(text, integer);
