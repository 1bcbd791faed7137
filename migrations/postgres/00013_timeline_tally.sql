-- "Alert added" entries of one incident less than a minute apart are one
-- timeline entry that counts its alerts: a storm reads as a few lines, and
-- a batch joining a storm adds to a row instead of inserting one per
-- incident (on SQLite a new row dirtied an index page per incident at
-- every commit, docs/benchmarks.md). For such an entry alerts > 0, detail
-- holds a JSON array of the names of its first alerts (at most five),
-- alerts_known counts those of its alerts that had fired before, and
-- last_at is when the latest of them joined; the timeline spells it out
-- when read.

-- +goose Up
ALTER TABLE incident_events ADD COLUMN alerts       BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incident_events ADD COLUMN alerts_known BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incident_events ADD COLUMN last_at      BIGINT NOT NULL DEFAULT 0;

-- +goose Down
UPDATE incident_events SET detail = CASE WHEN alerts = 1 THEN 'alert ' || (SELECT string_agg(value, ', ') FROM json_array_elements_text(detail::json))
        ELSE alerts || ' alerts: ' || (SELECT string_agg(value, ', ') FROM json_array_elements_text(detail::json))
            || CASE WHEN alerts > json_array_length(detail::json) THEN ' and ' || (alerts - json_array_length(detail::json)) || ' more' ELSE '' END
        END || CASE WHEN alerts_known = alerts THEN ' fired again' ELSE '' END
    WHERE alerts > 0;
ALTER TABLE incident_events DROP COLUMN last_at;
ALTER TABLE incident_events DROP COLUMN alerts_known;
ALTER TABLE incident_events DROP COLUMN alerts;
