-- migrate:up
-- Signed chat requests already answered (reactbin.domain.chat). Discord and Slack sign a timestamp with every
-- request and a signature stays valid for 5 minutes; remembering each one until then refuses a replay of it on
-- every replica. UNLOGGED: no WAL on the chat's latency path; a crash forgets at most these few minutes.
CREATE UNLOGGED TABLE chat_requests (
    digest     bytea PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX chat_requests_expires_at ON chat_requests (expires_at);

-- migrate:down
DROP TABLE chat_requests;
