-- Stores: applications and bank accounts, resident-code nonces, settlement (PostgreSQL).
-- Keep in step with ../sqlite/0003_stores.sql: the same tables, columns and meaning.

-- A store's application: who runs it and where its payouts go. Bank details are checked
-- against the bank code data set when written; the holder name is kept in Zengin kana.
ALTER TABLE stores ADD COLUMN size_class TEXT;
ALTER TABLE stores ADD COLUMN representative TEXT;
ALTER TABLE stores ADD COLUMN contact_name TEXT;
ALTER TABLE stores ADD COLUMN phone TEXT;
ALTER TABLE stores ADD COLUMN email TEXT;
ALTER TABLE stores ADD COLUMN bank_code TEXT;
ALTER TABLE stores ADD COLUMN branch_code TEXT;
ALTER TABLE stores ADD COLUMN account_type TEXT;
ALTER TABLE stores ADD COLUMN account_number TEXT;
ALTER TABLE stores ADD COLUMN account_holder TEXT;
-- Why staff rejected or suspended the store.
ALTER TABLE stores ADD COLUMN status_reason TEXT;
ALTER TABLE stores ADD COLUMN applied_at BIGINT;

-- Settlement reads payments and refunds of a period.
CREATE INDEX operations_kind_time ON operations (kind, created_at);

-- Resident codes are single use: a nonce is kept until its code can no longer be fresh.
CREATE TABLE resident_code_nonces (
    device_id BIGINT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    payment_id BIGINT NOT NULL REFERENCES operations (id),
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX resident_code_nonces_expiry ON resident_code_nonces (expires_at);

-- Secrets the servers share (e.g. the key that signs web form tokens), made on first use.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    secret BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- A closed settlement cycle. The transfer file is kept as written, so closing the period
-- again gives the same bytes.
CREATE TABLE settlement_cycles (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    programme_id TEXT NOT NULL,
    period TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    payout_date TEXT NOT NULL,
    fee_basis_points BIGINT NOT NULL,
    transfer_count BIGINT NOT NULL,
    transfer_total BIGINT NOT NULL,
    transfer_file BYTEA,
    closed_at BIGINT NOT NULL,
    closed_by TEXT NOT NULL,
    UNIQUE (programme_id, period)
);

-- One store's part of a cycle, with the bank account as it was at closing.
CREATE TABLE settlement_lines (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cycle_id BIGINT NOT NULL REFERENCES settlement_cycles (id),
    store_id BIGINT NOT NULL REFERENCES stores (id),
    payment_count BIGINT NOT NULL,
    gross BIGINT NOT NULL,
    refund_count BIGINT NOT NULL,
    refunds BIGINT NOT NULL,
    net BIGINT NOT NULL,
    premium BIGINT NOT NULL,
    charged BIGINT NOT NULL,
    points BIGINT NOT NULL,
    carried_in BIGINT NOT NULL,
    amount_due BIGINT NOT NULL,
    fee BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'paid', 'returned', 'carried')),
    hold_reason TEXT,
    bank_code TEXT,
    branch_code TEXT,
    account_type TEXT,
    account_number TEXT,
    account_holder TEXT,
    -- A carried or returned amount is taken into exactly one later cycle.
    carried_into BIGINT REFERENCES settlement_cycles (id),
    payout_operation_id BIGINT REFERENCES operations (id),
    return_operation_id BIGINT REFERENCES operations (id),
    paid_at BIGINT,
    returned_at BIGINT,
    return_reason TEXT,
    UNIQUE (cycle_id, store_id)
);
CREATE INDEX settlement_lines_store ON settlement_lines (store_id, cycle_id);
