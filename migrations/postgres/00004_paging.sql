-- +goose Up
ALTER TABLE incidents ADD COLUMN team TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN urgency TEXT NOT NULL DEFAULT 'page';

-- One row per page on one channel. A job claims the row ('sending') before
-- it delivers, so two jobs never send the same page, and a retried or
-- replayed job skips what already reached people ('sent').
CREATE TABLE pages (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id     BIGINT  NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    opening         INTEGER NOT NULL,
    step            INTEGER NOT NULL,
    round           INTEGER NOT NULL,
    person          TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    receipt_channel TEXT    NOT NULL DEFAULT '',
    receipt_id      TEXT    NOT NULL DEFAULT '',
    error           TEXT    NOT NULL DEFAULT '',
    updated_at      BIGINT  NOT NULL,
    UNIQUE (incident_id, opening, step, round, person, channel)
);

-- A page that reached a person, classified in their own time zone.
CREATE TABLE interruptions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT  NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    opening     INTEGER NOT NULL,
    step        INTEGER NOT NULL,
    round       INTEGER NOT NULL,
    person      TEXT    NOT NULL,
    team        TEXT    NOT NULL,
    at          BIGINT  NOT NULL,
    band        TEXT    NOT NULL CHECK (band IN ('business', 'off', 'sleep')),
    UNIQUE (incident_id, opening, step, round, person)
);
CREATE INDEX interruptions_team_at ON interruptions (team, at);
CREATE INDEX interruptions_person_at ON interruptions (person, at);

-- +goose Down
DROP TABLE interruptions;
DROP TABLE pages;
ALTER TABLE incidents DROP COLUMN urgency;
ALTER TABLE incidents DROP COLUMN team;
