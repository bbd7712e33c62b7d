-- Every payment leg wrote an entry into two indexes no query searched: transfers by debit
-- account and by credit account. Transfers are reached through their operation (a resident's
-- or a store's history, a refund's legs, settlement, reports) or read whole (the invariants'
-- check, which sums them by account in one pass); the lapsed total goes through the expiry
-- operations. Each entry lands at a random place (a purse) or one of 400 (a store): on SQLite
-- a page more in the WAL per leg, on PostgreSQL two WAL records (docs/benchmarks.md).
-- Keep in step with the other engine's 0009.
DROP INDEX transfers_debit;
DROP INDEX transfers_credit;
