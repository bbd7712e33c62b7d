-- The premium set sale (SQLite): applications, the lottery, orders and their payments.
-- Keep in step with ../postgres/0002_sale.sql: the same tables, columns and meaning.
-- Times are UTC milliseconds since the epoch; `programme` is the programme (issue) id.

-- One application per resident per programme, changeable until the window closes.
CREATE TABLE sale_applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    programme TEXT NOT NULL,
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    -- Random, published with the draw instead of the resident's identity.
    pseudonym TEXT NOT NULL,
    sets BIGINT NOT NULL CHECK (sets > 0),
    withdrawn BIGINT NOT NULL DEFAULT 0 CHECK (withdrawn IN (0, 1)),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (programme, resident_id),
    UNIQUE (programme, pseudonym)
);

-- The lottery's public record: the commitment first, the seed when drawn.
CREATE TABLE sale_draws (
    programme TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    rule TEXT NOT NULL,
    sets_available BIGINT NOT NULL,
    applications_hash TEXT NOT NULL,
    applications BIGINT NOT NULL,
    commitment TEXT NOT NULL,
    committed_at BIGINT NOT NULL,
    committed_by TEXT NOT NULL,
    seed TEXT,
    drawn_at BIGINT,
    drawn_by TEXT
);

-- Every application as drawn, with its result.
CREATE TABLE sale_entries (
    programme TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    requested BIGINT NOT NULL CHECK (requested > 0),
    won BIGINT NOT NULL CHECK (won >= 0 AND won <= requested),
    draw_rank BIGINT NOT NULL,
    PRIMARY KEY (programme, pseudonym),
    UNIQUE (programme, resident_id)
);

-- Sets on sale and sets taken (in due or paid orders). The conditional update
-- `taken + n <= total` is what makes overselling impossible; the CHECK is the backstop.
CREATE TABLE sale_stock (
    programme TEXT PRIMARY KEY,
    total BIGINT NOT NULL CHECK (total >= 0),
    taken BIGINT NOT NULL CHECK (taken >= 0 AND taken <= total)
);

-- Sets each resident holds in due or paid orders: the per-resident limit's guard.
CREATE TABLE sale_buyers (
    programme TEXT NOT NULL,
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    taken BIGINT NOT NULL CHECK (taken >= 0),
    PRIMARY KEY (programme, resident_id)
);

-- Sets a resident has to pay for (won in the lottery or taken in the additional sale).
CREATE TABLE sale_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    programme TEXT NOT NULL,
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    channel TEXT NOT NULL CHECK (channel IN ('lottery', 'additional')),
    sets BIGINT NOT NULL CHECK (sets > 0),
    amount BIGINT NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL CHECK (status IN ('due', 'paid', 'lapsed')),
    due_at BIGINT NOT NULL,
    -- How it was paid: a counter receipt number or the provider's payment id.
    payment_method TEXT CHECK (payment_method IN ('counter', 'provider')),
    payment_reference TEXT,
    operation_id BIGINT REFERENCES operations (id),
    created_at BIGINT NOT NULL,
    settled_at BIGINT
);
CREATE INDEX sale_orders_resident ON sale_orders (programme, resident_id);
CREATE INDEX sale_orders_due ON sale_orders (programme, status, due_at);
-- A receipt or a provider payment pays one order, once.
CREATE UNIQUE INDEX sale_orders_payment ON sale_orders (payment_method, payment_reference);
