-- +goose Up
CREATE TABLE incidents (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_hash      TEXT   NOT NULL,
    receiver        TEXT   NOT NULL,
    group_key       TEXT   NOT NULL,
    title           TEXT   NOT NULL,
    common_labels   JSONB  NOT NULL,
    state           TEXT   NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    opened_at       BIGINT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT,
    resolved_at     BIGINT,
    resolved_by     TEXT,
    hold_until      BIGINT,
    -- how many times it opened: 1, plus one per reopen; pages of each
    -- opening are told apart by it
    openings        INTEGER NOT NULL DEFAULT 1
);
-- At most one unresolved incident per group: two replicas opening the same
-- group at the same moment meet here, not in luck.
CREATE UNIQUE INDEX incidents_one_active ON incidents (group_hash) WHERE state <> 'resolved';
CREATE INDEX incidents_group_resolved ON incidents (group_hash, resolved_at);
CREATE INDEX incidents_opened ON incidents (opened_at);

CREATE TABLE incident_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    kind        TEXT   NOT NULL,
    actor       TEXT   NOT NULL,
    detail      TEXT   NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at);

ALTER TABLE episodes ADD COLUMN incident_id BIGINT REFERENCES incidents (id);
-- When the episode's incident was acknowledged while the episode was part
-- of it; kept when the incident later reopens.
ALTER TABLE episodes ADD COLUMN acknowledged_at BIGINT;
CREATE INDEX episodes_incident ON episodes (incident_id);

ALTER TABLE alerts ADD COLUMN flap_score DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN flap_at    BIGINT           NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN flapping   BOOLEAN          NOT NULL DEFAULT false;
CREATE INDEX alerts_flapping ON alerts (id) WHERE flapping;
CREATE INDEX alerts_alertname ON alerts (alertname);

-- +goose Down
DROP INDEX alerts_alertname;
DROP INDEX alerts_flapping;
ALTER TABLE alerts DROP COLUMN flapping;
ALTER TABLE alerts DROP COLUMN flap_at;
ALTER TABLE alerts DROP COLUMN flap_score;
DROP INDEX episodes_incident;
ALTER TABLE episodes DROP COLUMN acknowledged_at;
ALTER TABLE episodes DROP COLUMN incident_id;
DROP TABLE incident_events;
DROP TABLE incidents;
