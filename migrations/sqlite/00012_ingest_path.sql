-- episodes_incident repeats the first column of episodes_incident_starts.
-- Firing episodes are looked up by incident (does it still fire?), not by
-- alert (an alert's few episodes are found by the primary key).
-- (PostgreSQL also drops two foreign keys on the webhook path here; SQLite
-- cannot drop a constraint without rebuilding the table, and its checks are
-- cheap in process.)

-- +goose Up
DROP INDEX episodes_incident;
DROP INDEX episodes_firing;
CREATE INDEX episodes_incident_firing ON episodes (incident_id) WHERE state = 'firing';

-- +goose Down
DROP INDEX episodes_incident_firing;
CREATE INDEX episodes_firing ON episodes (alert_id) WHERE state = 'firing';
CREATE INDEX episodes_incident ON episodes (incident_id);
