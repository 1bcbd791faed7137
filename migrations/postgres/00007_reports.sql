-- Weekly reports: what was sent to whom (so each team's report goes out
-- once per week and recipient, whatever the replicas, restarts and
-- retries), and the indexes the reports read history by.

-- +goose Up
-- One row per report, week and recipient ("mailto:alice@example.com",
-- "slack:#db"). A sender claims the row ('sending') in the transaction that
-- checks it, delivers, then marks it 'sent'; a claim older than the stale
-- limit, or a failed one, may be taken over (at least once; the stable
-- Message-ID makes a repeat harmless).
CREATE TABLE report_sends (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team       TEXT    NOT NULL,
    week       TEXT    NOT NULL,
    recipient  TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    error      TEXT    NOT NULL DEFAULT '',
    updated_at BIGINT  NOT NULL,
    UNIQUE (team, week, recipient)
);

CREATE INDEX episodes_starts ON episodes (starts_at);
CREATE INDEX episodes_incident_starts ON episodes (incident_id, starts_at);
CREATE INDEX pages_sent ON pages (updated_at) WHERE status = 'sent';
CREATE INDEX incidents_team_opened ON incidents (team, opened_at);

-- +goose Down
DROP INDEX incidents_team_opened;
DROP INDEX pages_sent;
DROP INDEX episodes_incident_starts;
DROP INDEX episodes_starts;
DROP TABLE report_sends;
