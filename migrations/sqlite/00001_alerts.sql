-- Instants are stored as integer microseconds since the Unix epoch, UTC, in
-- both dialects: exact, compact, and compared the same way everywhere.

-- +goose Up
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE alerts (
    fingerprint   TEXT    PRIMARY KEY,
    alertname     TEXT    NOT NULL,
    labels        TEXT    NOT NULL,
    annotations   TEXT    NOT NULL,
    generator_url TEXT    NOT NULL,
    receiver      TEXT    NOT NULL,
    group_key     TEXT    NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL
);
CREATE INDEX alerts_last_seen ON alerts (last_seen);

CREATE TABLE episodes (
    fingerprint    TEXT    NOT NULL REFERENCES alerts (fingerprint) ON DELETE CASCADE,
    starts_at      INTEGER NOT NULL,
    ends_at        INTEGER,
    state          TEXT    NOT NULL CHECK (state IN ('firing', 'resolved')),
    notifications  INTEGER NOT NULL,
    first_received INTEGER NOT NULL,
    last_received  INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, starts_at)
);
CREATE INDEX episodes_firing ON episodes (fingerprint) WHERE state = 'firing';

-- +goose Down
DROP TABLE episodes;
DROP TABLE alerts;
DROP TABLE api_tokens;
