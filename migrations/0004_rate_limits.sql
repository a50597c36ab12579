-- migrate:up
-- Fixed-window request counters shared by every API replica (RATE_LIMIT_STORE=postgres).
CREATE UNLOGGED TABLE rate_limit_windows (
    key          text    NOT NULL,
    window_start bigint  NOT NULL,
    count        integer NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- migrate:down
DROP TABLE rate_limit_windows;
