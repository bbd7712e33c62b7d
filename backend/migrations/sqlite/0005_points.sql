-- Community points: events staff define, residents' claims, and what each event and day has
-- taken (SQLite). Keep in step with ../postgres/0005_points.sql:
-- the same tables, columns and meaning.

CREATE TABLE points_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The currency programme the event belongs to (its codes name it).
    programme_id TEXT NOT NULL,
    name TEXT NOT NULL,
    place TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    points BIGINT NOT NULL CHECK (points > 0),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    -- Participants at most (per JST day for daily events); NULL for no limit.
    capacity BIGINT CHECK (capacity IS NULL OR capacity > 0),
    frequency TEXT NOT NULL CHECK (frequency IN ('once', 'daily')),
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX points_events_time ON points_events (programme_id, starts_at);

-- One participation: day is the JST date as YYYYMMDD for daily events and 0 for once-only
-- events, so the unique key is the "once per resident (per day)" rule itself.
CREATE TABLE points_claims (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id BIGINT NOT NULL REFERENCES points_events (id),
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    day BIGINT NOT NULL,
    points BIGINT NOT NULL CHECK (points > 0),
    operation_id BIGINT NOT NULL REFERENCES operations (id),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (event_id, resident_id, day)
);
CREATE INDEX points_claims_resident ON points_claims (resident_id, id);

-- How many took part in an event (on a day): the capacity guard is a conditional update here.
CREATE TABLE points_attendance (
    event_id BIGINT NOT NULL REFERENCES points_events (id),
    day BIGINT NOT NULL,
    claims BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, day)
);

-- The expiry job looks for lapsed purses with something left.
CREATE INDEX accounts_kind_expiry ON accounts (kind, expires_at);
