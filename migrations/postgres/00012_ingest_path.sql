-- The webhook path writes an episode, often an incident and a timeline row
-- per alert. Two foreign keys on that path cost PostgreSQL a trigger and a
-- lookup query per row (about a fifth of its work per 1-alert webhook,
-- docs/benchmarks.md); the write transaction takes every incident id it
-- stores from a row it has just inserted or read under the incident's
-- unique index, and retention deletes the timeline itself. The foreign keys
-- that keep pages, interruptions, feedback and silences to their incident
-- stay: nothing writes those in bulk.
--
-- episodes_incident repeats the first column of episodes_incident_starts.
-- Firing episodes are looked up by incident (does it still fire? every
-- batch that resolves an alert asks), not by alert (an alert's few episodes
-- are found by the primary key): with firing episodes indexed by alert,
-- PostgreSQL answered for a 400-alert storm by scanning every firing
-- episode of every incident, 5 ms each time.

-- +goose Up
ALTER TABLE episodes DROP CONSTRAINT episodes_incident_id_fkey;
ALTER TABLE incident_events DROP CONSTRAINT incident_events_incident_id_fkey;
DROP INDEX episodes_incident;
DROP INDEX episodes_firing;
CREATE INDEX episodes_incident_firing ON episodes (incident_id) WHERE state = 'firing';

-- +goose Down
DROP INDEX episodes_incident_firing;
CREATE INDEX episodes_firing ON episodes (alert_id) WHERE state = 'firing';
CREATE INDEX episodes_incident ON episodes (incident_id);
ALTER TABLE incident_events ADD CONSTRAINT incident_events_incident_id_fkey
    FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE;
ALTER TABLE episodes ADD CONSTRAINT episodes_incident_id_fkey
    FOREIGN KEY (incident_id) REFERENCES incidents (id);
