-- Replayed history (quietpager replay, the demo): one row per replay run,
-- and the mark on every incident a replay opened, so that reports can tell
-- replayed history from live history and `quietpager replay --delete`
-- removes it (episodes, pages, interruptions and feedback go with their
-- incidents).

-- +goose Up
CREATE TABLE replays (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    first_at    INTEGER,
    last_at     INTEGER,
    lines       INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT ''
);

ALTER TABLE incidents ADD COLUMN replay_id INTEGER REFERENCES replays (id);
CREATE INDEX incidents_replay ON incidents (replay_id) WHERE replay_id IS NOT NULL;

-- +goose Down
DROP INDEX incidents_replay;
ALTER TABLE incidents DROP COLUMN replay_id;
DROP TABLE replays;
