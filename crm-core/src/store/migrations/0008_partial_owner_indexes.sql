-- Schema version 8: the indexes on optional owner and assignee columns hold
-- only the rows that have one. A bulk import of parties or orders without
-- owners wrote a NULL entry per row into each (at a million parties: 10 MB
-- and an index insert per row for nothing). Every query these indexes serve
-- asks for one owner (`owner_id = ?`), which implies NOT NULL, so SQLite
-- still uses them.

DROP INDEX parties_owner_id;
CREATE INDEX parties_owner_id ON parties (owner_id) WHERE owner_id IS NOT NULL;

DROP INDEX interactions_owner_id;
CREATE INDEX interactions_owner_id ON interactions (owner_id) WHERE owner_id IS NOT NULL;

DROP INDEX quotes_owner_id;
CREATE INDEX quotes_owner_id ON quotes (owner_id) WHERE owner_id IS NOT NULL;

DROP INDEX orders_owner_id;
CREATE INDEX orders_owner_id ON orders (owner_id, ordered_at) WHERE owner_id IS NOT NULL;

DROP INDEX opportunities_owner_id;
CREATE INDEX opportunities_owner_id ON opportunities (owner_id) WHERE owner_id IS NOT NULL;

DROP INDEX cases_assignee_id;
CREATE INDEX cases_assignee_id ON cases (assignee_id) WHERE assignee_id IS NOT NULL;
