-- Personal data at rest is sealed by the vault (AES-256-GCM, keys from configuration): the
-- residents' name, kana, birth_date, postal_code, address, phone and email columns hold
-- `enc:v1:…` values. Exact-match searches use keyed blind indexes; statistics use the coarse,
-- unsealed birth year and district.
ALTER TABLE residents ADD COLUMN phone_index TEXT;
ALTER TABLE residents ADD COLUMN kana_index TEXT;
ALTER TABLE residents ADD COLUMN birth_year BIGINT;
CREATE UNIQUE INDEX residents_phone_index ON residents (phone_index);
CREATE INDEX residents_kana_index ON residents (kana_index);

-- A value sealed with the keys in use, so that a server started with the wrong key file
-- refuses to start instead of failing every login.
CREATE TABLE vault_check (
    id BIGINT PRIMARY KEY,
    sealed TEXT NOT NULL,
    index_check TEXT NOT NULL
);
