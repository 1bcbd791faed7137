-- Instants are stored as integer microseconds since the Unix epoch, UTC, in
-- both dialects: exact, compact, and compared the same way everywhere.

-- +goose Up
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- Episodes are keyed by the alert's integer id, not its fingerprint: ids
-- grow in arrival order, so a storm of new alerts appends to the end of the
-- episode index instead of dirtying a random page per alert (a hash key).
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    fingerprint   TEXT    NOT NULL UNIQUE,
    alertname     TEXT    NOT NULL,
    labels        TEXT    NOT NULL,
    annotations   TEXT    NOT NULL,
    generator_url TEXT    NOT NULL,
    receiver      TEXT    NOT NULL,
    group_key     TEXT    NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL
);

CREATE TABLE episodes (
    alert_id       INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    starts_at      INTEGER NOT NULL,
    ends_at        INTEGER,
    -- true while ends_at is only inferred from the next episode's start
    -- (the resolve was lost); a real resolve replaces it.
    ends_inferred  INTEGER NOT NULL DEFAULT 0,
    state          TEXT    NOT NULL CHECK (state IN ('firing', 'resolved')),
    notifications  INTEGER NOT NULL,
    first_received INTEGER NOT NULL,
    last_received  INTEGER NOT NULL,
    PRIMARY KEY (alert_id, starts_at)
) WITHOUT ROWID;
CREATE INDEX episodes_firing ON episodes (alert_id) WHERE state = 'firing';

-- +goose Down
DROP TABLE episodes;
DROP TABLE alerts;
DROP TABLE api_tokens;
