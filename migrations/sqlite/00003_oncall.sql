-- On-call configuration, written by `quietpager apply` (rotation/sqlstore),
-- and the overrides people make by hand. Names are the keys apply works
-- by; ids are what rows reference, so a rename is a delete and a create.
-- Ordered lists (members, steps, routes) keep a position. Durations are
-- integer microseconds like instants (suffix _us).

-- +goose Up
CREATE TABLE people (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    email     TEXT NOT NULL,
    slack_id  TEXT NOT NULL,
    time_zone TEXT NOT NULL
);

CREATE TABLE teams (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    time_zone      TEXT NOT NULL,
    slack_channel  TEXT NOT NULL,
    webhook_url    TEXT NOT NULL,
    webhook_secret TEXT NOT NULL
);

CREATE TABLE team_members (
    team_id   INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    person_id INTEGER NOT NULL REFERENCES people (id),
    PRIMARY KEY (team_id, position)
);
CREATE INDEX team_members_person ON team_members (person_id);

CREATE TABLE rotations (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    team_id    INTEGER NOT NULL REFERENCES teams (id),
    shift_days INTEGER NOT NULL,
    shift_us   INTEGER NOT NULL,
    starts_at  INTEGER NOT NULL,
    time_zone  TEXT    NOT NULL,
    CHECK ((shift_days > 0) <> (shift_us > 0))
);
CREATE INDEX rotations_team ON rotations (team_id);

CREATE TABLE rotation_members (
    rotation_id INTEGER NOT NULL REFERENCES rotations (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    person_id   INTEGER NOT NULL REFERENCES people (id),
    PRIMARY KEY (rotation_id, position)
);
CREATE INDEX rotation_members_person ON rotation_members (person_id);

CREATE TABLE escalation_policies (
    id      INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL UNIQUE REFERENCES teams (id),
    repeats INTEGER NOT NULL CHECK (repeats >= 0)
);

CREATE TABLE escalation_steps (
    policy_id INTEGER NOT NULL REFERENCES escalation_policies (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    delay_us  INTEGER NOT NULL CHECK (delay_us >= 0),
    PRIMARY KEY (policy_id, position)
);

-- Whom a step pages: a rotation's person on call, or a named person.
CREATE TABLE escalation_targets (
    policy_id   INTEGER NOT NULL,
    step        INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    rotation_id INTEGER REFERENCES rotations (id),
    person_id   INTEGER REFERENCES people (id),
    PRIMARY KEY (policy_id, step, position),
    FOREIGN KEY (policy_id, step) REFERENCES escalation_steps (policy_id, position) ON DELETE CASCADE,
    CHECK ((rotation_id IS NULL) <> (person_id IS NULL))
);
CREATE INDEX escalation_targets_rotation ON escalation_targets (rotation_id);
CREATE INDEX escalation_targets_person ON escalation_targets (person_id);

-- Matchers are kept as Alertmanager text ({severity="critical", team=~"db.*"}),
-- group_by as a JSON array. Zero flap settings mean the service's.
CREATE TABLE routes (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    position         INTEGER NOT NULL,
    matchers         TEXT    NOT NULL,
    team_id          INTEGER NOT NULL REFERENCES teams (id),
    urgency          TEXT    NOT NULL CHECK (urgency IN ('page', 'business-hours', 'digest')),
    group_by         TEXT    NOT NULL,
    reopen_window_us INTEGER NOT NULL,
    flap_tau_us      INTEGER NOT NULL,
    flap_high        REAL    NOT NULL,
    flap_low         REAL    NOT NULL,
    flap_quiet_us    INTEGER NOT NULL,
    is_default       INTEGER NOT NULL
);
CREATE INDEX routes_team ON routes (team_id);

-- Overrides go with their rotation: deleting a rotation deletes them.
CREATE TABLE overrides (
    id          INTEGER PRIMARY KEY,
    rotation_id INTEGER NOT NULL REFERENCES rotations (id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES people (id),
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX overrides_rotation ON overrides (rotation_id, starts_at);
CREATE INDEX overrides_person ON overrides (person_id);

-- +goose Down
DROP TABLE overrides;
DROP TABLE routes;
DROP TABLE escalation_targets;
DROP TABLE escalation_steps;
DROP TABLE escalation_policies;
DROP TABLE rotation_members;
DROP TABLE rotations;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE people;
