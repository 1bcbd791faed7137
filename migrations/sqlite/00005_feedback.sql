-- What people say about incidents beyond acknowledging them: "not
-- actionable" marks (they feed the noise ranking) and the Alertmanager
-- silences made for an incident (Slack buttons, /oncall silence, the web UI).

-- +goose Up
CREATE TABLE incident_feedback (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('not_actionable')),
    actor       TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    UNIQUE (incident_id, kind, actor)
);
CREATE INDEX incident_feedback_at ON incident_feedback (at);

CREATE TABLE silences (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    silence_id  TEXT    NOT NULL, -- Alertmanager's id
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL
);
CREATE INDEX silences_incident ON silences (incident_id);

-- +goose Down
DROP TABLE silences;
DROP TABLE incident_feedback;
