-- migrate:up
-- The thumbnail job API's own record of each job: what clients see when they poll. The pgqueuer row that
-- runs it (queue_job_id) is inserted in the same transaction; pgqueuer deletes its row when the job ends,
-- so there is no foreign key to it.
CREATE TABLE thumbnail_jobs (
    id                 uuid        PRIMARY KEY,
    status             text        NOT NULL DEFAULT 'PENDING'
                                   CHECK (status IN ('PENDING', 'STARTED', 'SUCCESS', 'FAILURE')),
    -- What was asked for: the source object and the box to fit it into.
    source_key         text        NOT NULL,
    source_mime_type   text        NOT NULL,
    box_width          integer     NOT NULL CHECK (box_width > 0),
    box_height         integer     NOT NULL CHECK (box_height > 0),
    fit                text        NOT NULL CHECK (fit IN ('contain', 'cover')),
    format             text        NOT NULL CHECK (format IN ('webp', 'jpeg', 'png')),
    -- Who runs it. attempts counts every start, crash recoveries included (pgqueuer does not count those).
    queue_job_id       bigint,
    attempts           integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    claim_token        uuid,
    worker             text,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at         timestamptz,
    finished_at        timestamptz,
    expires_at         timestamptz,
    error_code         text,
    error_detail       text,
    result_key         text,
    result_hash        text,
    result_width       integer,
    result_height      integer,
    result_mime_type   text,
    result_size_bytes  bigint,
    CHECK ((status = 'SUCCESS') = (result_key IS NOT NULL AND result_hash IS NOT NULL AND result_width IS NOT NULL
                                   AND result_height IS NOT NULL AND result_mime_type IS NOT NULL
                                   AND result_size_bytes IS NOT NULL)),
    CHECK ((status = 'FAILURE') = (error_code IS NOT NULL)),
    CHECK ((status IN ('SUCCESS', 'FAILURE')) = (finished_at IS NOT NULL AND expires_at IS NOT NULL))
);

-- Newest first, keyset-paginated by (created_at, id), with or without a status filter.
CREATE INDEX thumbnail_jobs_created_at_id ON thumbnail_jobs (created_at DESC, id DESC);
CREATE INDEX thumbnail_jobs_status_created_at_id ON thumbnail_jobs (status, created_at DESC, id DESC);
-- The periodic clean-up finds expired jobs without scanning live ones.
CREATE INDEX thumbnail_jobs_expires_at ON thumbnail_jobs (expires_at) WHERE expires_at IS NOT NULL;

-- migrate:down
DROP TABLE thumbnail_jobs;
