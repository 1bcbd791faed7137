-- Instants are stored as integer microseconds since the Unix epoch, UTC, in
-- both dialects: exact, compact, and compared the same way everywhere.

-- +goose Up
CREATE TABLE api_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT   NOT NULL UNIQUE,
    hash       TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- Episodes are keyed by the alert's integer id, not its fingerprint: ids
-- grow in arrival order, so a storm of new alerts appends to the end of the
-- episode index instead of dirtying a random page per alert (a hash key).
CREATE TABLE alerts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint   TEXT   NOT NULL UNIQUE,
    alertname     TEXT   NOT NULL,
    labels        JSONB  NOT NULL,
    annotations   JSONB  NOT NULL,
    generator_url TEXT   NOT NULL,
    receiver      TEXT   NOT NULL,
    group_key     TEXT   NOT NULL,
    first_seen    BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL
);

CREATE TABLE episodes (
    alert_id       BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    starts_at      BIGINT NOT NULL,
    ends_at        BIGINT,
    -- true while ends_at is only inferred from the next episode's start
    -- (the resolve was lost); a real resolve replaces it.
    ends_inferred  BOOLEAN NOT NULL DEFAULT false,
    state          TEXT   NOT NULL CHECK (state IN ('firing', 'resolved')),
    notifications  BIGINT NOT NULL,
    first_received BIGINT NOT NULL,
    last_received  BIGINT NOT NULL,
    PRIMARY KEY (alert_id, starts_at)
);
CREATE INDEX episodes_firing ON episodes (alert_id) WHERE state = 'firing';

-- +goose Down
DROP TABLE episodes;
DROP TABLE alerts;
DROP TABLE api_tokens;
