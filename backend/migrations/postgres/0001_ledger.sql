-- Chiiki ledger schema (PostgreSQL). Times are UTC milliseconds since the epoch.
-- Keep in step with ../sqlite/0001_ledger.sql: the same tables, columns and meaning.

CREATE TABLE residents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    kana TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    district TEXT NOT NULL,
    address TEXT NOT NULL,
    phone TEXT NOT NULL UNIQUE,
    email TEXT,
    pin_hash TEXT NOT NULL,
    pin_failures BIGINT NOT NULL DEFAULT 0,
    pin_locked_until BIGINT,
    -- Bumped by every payment: the row lock that serialises one resident's payments.
    payment_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE staff (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('administrator', 'operator', 'viewer')),
    created_at BIGINT NOT NULL
);

CREATE TABLE stores (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    kana TEXT NOT NULL,
    romanised_name TEXT NOT NULL,
    industry TEXT NOT NULL,
    district TEXT NOT NULL,
    address TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'suspended')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX stores_updated ON stores (updated_at);

CREATE TABLE store_staff (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id BIGINT NOT NULL REFERENCES stores (id),
    created_at BIGINT NOT NULL
);

-- One login for every kind of principal, so that a login names exactly one account.
CREATE TABLE credentials (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    principal_kind TEXT NOT NULL CHECK (principal_kind IN ('resident', 'store_staff', 'staff')),
    principal_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE devices (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id BIGINT NOT NULL REFERENCES credentials (id),
    name TEXT NOT NULL,
    public_key BYTEA,
    created_at BIGINT NOT NULL
);

-- Bearer tokens, stored only as SHA-256 hashes.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    credential_id BIGINT NOT NULL REFERENCES credentials (id),
    device_id BIGINT NOT NULL REFERENCES devices (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Ledger accounts. owner_id 0 and issue '' mean "none" so that the unique key holds
-- (NULLs never collide in a unique index).
CREATE TABLE accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    owner_id BIGINT NOT NULL DEFAULT 0,
    issue TEXT NOT NULL DEFAULT '',
    expires_at BIGINT,
    -- Cached balance, kept only for resident purses and only in the transaction that moves
    -- value; every other account's balance is derived from transfers (no hot rows).
    balance BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (kind, owner_id, issue)
);

-- One business operation (a payment, a refund, a charge, ...) and its transfers.
CREATE TABLE operations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    resident_id BIGINT,
    store_id BIGINT,
    amount BIGINT NOT NULL CHECK (amount > 0),
    parent_id BIGINT REFERENCES operations (id),
    -- For payments: what has been refunded so far (guarded by a conditional update).
    refunded BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
    actor TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX operations_resident ON operations (resident_id, id);
CREATE INDEX operations_store ON operations (store_id, id);
CREATE INDEX operations_parent ON operations (parent_id);

-- Append-only double entry: every movement of value, from one account to another.
CREATE TABLE transfers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operation_id BIGINT NOT NULL REFERENCES operations (id),
    debit_account BIGINT NOT NULL REFERENCES accounts (id),
    credit_account BIGINT NOT NULL REFERENCES accounts (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    -- A refund leg names the payment leg it reverses.
    reverses_id BIGINT REFERENCES transfers (id),
    created_at BIGINT NOT NULL,
    CHECK (debit_account <> credit_account)
);
CREATE INDEX transfers_operation ON transfers (operation_id);
CREATE INDEX transfers_debit ON transfers (debit_account);
CREATE INDEX transfers_credit ON transfers (credit_account);
CREATE INDEX transfers_reverses ON transfers (reverses_id);


-- Idempotency keys, scoped per caller. The stored response is replayed for a repeat.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    body TEXT NOT NULL,
    operation_id BIGINT REFERENCES operations (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE FUNCTION refuse_transfer_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'transfers are append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER transfers_are_append_only
BEFORE UPDATE OR DELETE ON transfers
FOR EACH ROW EXECUTE FUNCTION refuse_transfer_change();
