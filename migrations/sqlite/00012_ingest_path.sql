-- episodes_incident repeats the first column of episodes_incident_starts.
-- (On PostgreSQL this migration also drops two foreign keys on the webhook
-- path and indexes firing episodes by incident instead of by alert. SQLite
-- cannot drop a constraint without rebuilding the table, and its checks
-- are cheap in process; its planner finds an incident's firing episodes
-- through episodes_incident_starts, and an index by incident would dirty a
-- page per incident a batch touches, written again to the WAL at every
-- commit: measured, SQLite lost more to that than it gained.)

-- +goose Up
DROP INDEX episodes_incident;

-- +goose Down
CREATE INDEX episodes_incident ON episodes (incident_id);
