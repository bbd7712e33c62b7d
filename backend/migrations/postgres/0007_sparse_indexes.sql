-- Links that most rows leave empty (a refund's payment, a reversal's transfer) are indexed
-- only where they are set. A full index holds one NULL entry per payment and transfer; once
-- the planner's statistics say so (ANALYZE after a bulk load, or on a new programme's first
-- day) it judges the index useless and answers "what reversed this transfer?" by reading the
-- whole table, in every refund. Keep in step with the other engine's 0007.
DROP INDEX transfers_reverses;
CREATE INDEX transfers_reverses ON transfers (reverses_id) WHERE reverses_id IS NOT NULL;
DROP INDEX operations_parent;
CREATE INDEX operations_parent ON operations (parent_id) WHERE parent_id IS NOT NULL;
