-- The staff audit log: append-only and hash-chained. Each entry carries the SHA-256 of the
-- previous one (`prev_hash`) and its own (`hash`, over every column and `prev_hash`), so an
-- edited entry breaks its own hash and a removed one breaks the chain of `seq` and hashes.
-- `audit_head` holds the last `seq` and hash, so that removing entries from the end shows too,
-- and its row lock serialises appends. Times are UTC milliseconds.
-- Keep in step with ../postgres/0006_audit.sql.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    ip TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- The database refuses edits and deletions; someone able to drop these triggers is caught by
-- `chiiki audit verify` instead.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- Failed console sign-ins per login, for the lockout.
CREATE TABLE staff_login_failures (
    login TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until BIGINT
);
