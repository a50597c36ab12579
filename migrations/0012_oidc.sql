-- migrate:up
-- OpenID Connect sign-in. A user is found by the provider's (issuer, subject), never by e-mail alone: an e-mail
-- address can be changed or reused at the provider, the subject cannot.
CREATE TABLE user_identities (
    issuer     text NOT NULL,
    subject    text NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user_id ON user_identities (user_id);

-- Sign-ins in flight between /auth/oidc/login and the callback, shared by every replica (the callback may reach
-- another one). Keyed by the SHA-256 of `state`; the browser also holds `state` in a cookie, so a callback URL
-- forwarded to someone else signs nobody in. Each row is used once.
CREATE TABLE oidc_logins (
    state_hash    bytea PRIMARY KEY,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- migrate:down
DROP TABLE oidc_logins;
DROP TABLE user_identities;
