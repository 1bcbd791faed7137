-- Heartbeats (dead man's switches), written by `quietpager apply` with the
-- rest of the on-call configuration. Matchers are kept as Alertmanager text
-- like routes' ({alertname="Watchdog"}), labels as a JSON object.
-- configured_at is when apply created the heartbeat or last changed what it
-- listens for: a heartbeat never heard is missing one interval after it.

-- +goose Up
CREATE TABLE heartbeats (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    matchers      TEXT    NOT NULL,
    interval_us   INTEGER NOT NULL CHECK (interval_us > 0),
    labels        TEXT    NOT NULL,
    configured_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE heartbeats;
