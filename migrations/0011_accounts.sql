-- migrate:up
-- Accounts (DESIGN "Several people, one library: accounts (v4)"). Until the first row of `users` exists the library
-- stays open exactly as before; images uploaded before that keep `uploaded_by` null.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.-]{1,32}$'),
    role          text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    -- argon2id (PHC string); null for users who only sign in through OpenID Connect.
    password_hash text,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Names are unique ignoring case: `Alice` and `alice` are one person to the people reading "uploaded by".
CREATE UNIQUE INDEX users_name_key ON users (lower(name));

-- A session is a random 256-bit id in the browser's cookie; only its SHA-256 is stored, so a copy of the table
-- signs nobody in. Idle expiry: `last_seen_at` + SESSION_TTL.
CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_seen_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Personal API keys (`rb_...`): shown once, stored as SHA-256 (256 random bits need no slow hash).
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('full', 'upload')),
    key_hash     bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_used_at timestamptz
);
CREATE INDEX api_keys_user_id ON api_keys (user_id, created_at);

CREATE TABLE favourites (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    image_id   uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (user_id, image_id)
);
CREATE INDEX favourites_image_id ON favourites (image_id);

-- Who uploaded an image; null before accounts existed, for API_TOKENS uploads, and after the user was deleted.
ALTER TABLE images ADD COLUMN uploaded_by uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX images_uploaded_by ON images (uploaded_by, created_at DESC, id DESC) WHERE uploaded_by IS NOT NULL;

-- One-time codes of the first-run setup screen: each serving process logs its own, all stop working as soon as a
-- user exists (their rows are deleted in the transaction that creates the first user).
CREATE TABLE setup_codes (
    code_hash  bytea PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- migrate:down
DROP TABLE setup_codes;
ALTER TABLE images DROP COLUMN uploaded_by;
DROP TABLE favourites;
DROP TABLE api_keys;
DROP TABLE sessions;
DROP TABLE users;
