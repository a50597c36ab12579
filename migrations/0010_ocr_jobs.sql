-- migrate:up
-- OCR jobs (see 0005 for the caption columns). text_attempts counts every start of an image's OCR job, crash
-- recoveries included (pgqueuer does not count those), so a file that kills its worker fails for good.
-- text_queued_at is when the image's OCR was last (re)queued: `reactbin reindex` counts its progress by it,
-- and the periodic clean-up re-queues images pending long after it whose queue job is gone.
ALTER TABLE images
    ADD COLUMN text_attempts  integer NOT NULL DEFAULT 0 CHECK (text_attempts >= 0),
    ADD COLUMN text_queued_at timestamptz;

CREATE INDEX images_text_queued_at ON images (text_queued_at);
-- The clean-up's look for lost jobs touches pending images only, however large the library.
CREATE INDEX images_text_pending ON images (text_queued_at) WHERE text_status = 'pending';

-- migrate:down
DROP INDEX images_text_pending;
DROP INDEX images_text_queued_at;
ALTER TABLE images DROP COLUMN text_queued_at, DROP COLUMN text_attempts;
