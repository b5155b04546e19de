-- Frozen schema of crm version 8 (crm-core 0.1.0). Never edit.
-- Schema version 1: parties, contact points, relationships, interactions,
-- tasks and the event log.
-- Ids are UUIDv7 text; times are UTC text `YYYY-MM-DDTHH:MM:SS.ffffffZ`
-- (fixed width, so they sort); dates are `YYYY-MM-DD`.

CREATE TABLE crm_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO crm_meta (key, value) VALUES ('application', 'crm');

CREATE TABLE parties (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    stage       TEXT,
    owner_id    TEXT REFERENCES parties (id),
    language    TEXT,
    currency    TEXT,
    notes       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT,
    merged_into TEXT REFERENCES parties (id)
);
CREATE INDEX parties_owner_id ON parties (owner_id);
CREATE INDEX parties_merged_into ON parties (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX parties_name_key ON parties (name_key);

CREATE TABLE party_roles (
    id       INTEGER PRIMARY KEY,
    party_id TEXT NOT NULL REFERENCES parties (id),
    role     TEXT NOT NULL,
    since    TEXT NOT NULL,
    until    TEXT
);
CREATE INDEX party_roles_party_id ON party_roles (party_id, role);

CREATE TABLE party_stages (
    id       INTEGER PRIMARY KEY,
    party_id TEXT NOT NULL REFERENCES parties (id),
    stage    TEXT NOT NULL,
    at       TEXT NOT NULL,
    reason   TEXT
);
CREATE INDEX party_stages_party_id ON party_stages (party_id);

CREATE TABLE party_tags (
    party_id TEXT NOT NULL REFERENCES parties (id),
    tag      TEXT NOT NULL,
    PRIMARY KEY (party_id, tag)
) WITHOUT ROWID;
CREATE INDEX party_tags_tag ON party_tags (tag);

CREATE TABLE field_defs (
    name        TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    enum_values TEXT,
    label       TEXT,
    created_at  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE party_fields (
    party_id TEXT NOT NULL REFERENCES parties (id),
    field    TEXT NOT NULL REFERENCES field_defs (name),
    value    TEXT NOT NULL,
    PRIMARY KEY (party_id, field)
) WITHOUT ROWID;
CREATE INDEX party_fields_field ON party_fields (field);

CREATE TABLE external_ids (
    system   TEXT NOT NULL,
    value    TEXT NOT NULL,
    party_id TEXT NOT NULL REFERENCES parties (id),
    PRIMARY KEY (system, value)
) WITHOUT ROWID;
CREATE INDEX external_ids_party_id ON external_ids (party_id);

CREATE TABLE contact_points (
    id         TEXT PRIMARY KEY,
    party_id   TEXT NOT NULL REFERENCES parties (id),
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    normalized TEXT NOT NULL,
    label      TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX contact_points_party_id ON contact_points (party_id);
CREATE INDEX contact_points_normalized ON contact_points (kind, normalized);

CREATE TABLE consents (
    id               INTEGER PRIMARY KEY,
    contact_point_id TEXT NOT NULL REFERENCES contact_points (id) ON DELETE CASCADE,
    purpose          TEXT NOT NULL,
    granted          INTEGER NOT NULL,
    source           TEXT NOT NULL,
    at               TEXT NOT NULL
);
CREATE INDEX consents_contact_point_id ON consents (contact_point_id, purpose);

CREATE TABLE relationship_types (
    code         TEXT PRIMARY KEY,
    hierarchical INTEGER NOT NULL,
    label_en     TEXT NOT NULL,
    label_zh     TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO relationship_types (code, hierarchical, label_en, label_zh) VALUES
    ('subsidiary-of', 1, 'Subsidiary of', '子公司'),
    ('branch-of', 1, 'Branch of', '分支机构'),
    ('reports-to', 1, 'Reports to', '汇报给'),
    ('employee-of', 0, 'Employee of', '雇员'),
    ('contact-for', 0, 'Contact person for', '联系人'),
    ('distributor-for', 0, 'Distributor for', '经销商'),
    ('agent-of', 0, 'Agent of', '代理'),
    ('partner-of', 0, 'Partner of', '合作伙伴'),
    ('household', 0, 'Same household', '家庭成员'),
    ('referred-by', 0, 'Referred by', '推荐人');

CREATE TABLE relationships (
    id         TEXT PRIMARY KEY,
    from_id    TEXT NOT NULL REFERENCES parties (id),
    to_id      TEXT NOT NULL REFERENCES parties (id),
    kind       TEXT NOT NULL REFERENCES relationship_types (code),
    role       TEXT,
    since      TEXT,
    until      TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX relationships_from_id ON relationships (from_id, kind);
CREATE INDEX relationships_to_id ON relationships (to_id, kind);

CREATE TABLE interactions (
    id          TEXT PRIMARY KEY,
    party_id    TEXT NOT NULL REFERENCES parties (id),
    channel     TEXT NOT NULL,
    direction   TEXT NOT NULL,
    at          TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT,
    outcome     TEXT,
    owner_id    TEXT REFERENCES parties (id),
    link_entity TEXT,
    link_id     TEXT,
    external_id TEXT UNIQUE,
    created_at  TEXT NOT NULL
);
CREATE INDEX interactions_party_id ON interactions (party_id, at);
CREATE INDEX interactions_owner_id ON interactions (owner_id);
CREATE INDEX interactions_at ON interactions (at);

CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    party_id    TEXT REFERENCES parties (id),
    assignee_id TEXT REFERENCES parties (id),
    due_at      TEXT NOT NULL,
    notes       TEXT,
    status      TEXT NOT NULL,
    closed_at   TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX tasks_party_id ON tasks (party_id);
CREATE INDEX tasks_assignee_id ON tasks (assignee_id, due_at);

-- `seq` is the row id: events are never deleted (erasure scrubs their
-- payload), so the next `seq` is always greater than every committed one.
CREATE TABLE events (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    before    TEXT,
    after     TEXT
);
CREATE INDEX events_entity ON events (entity, entity_id);
-- Schema version 2: full-text search.
-- The trigram tokenizer matches any substring of 3+ characters, which is what
-- Chinese text needs (no word boundaries). Shorter queries use LIKE over the
-- same tables. Row ids equal the row ids of `parties` / `interactions`, so a
-- row's index entry is found without a scan.

CREATE VIRTUAL TABLE party_search USING fts5 (text, tokenize = 'trigram');
CREATE VIRTUAL TABLE interaction_search USING fts5 (text, tokenize = 'trigram');

INSERT INTO party_search (rowid, text)
SELECT rowid, name || coalesce(char(10) || notes, '')
FROM parties
WHERE deleted_at IS NULL;

INSERT INTO interaction_search (rowid, text)
SELECT i.rowid, i.subject || coalesce(char(10) || i.body, '') || coalesce(char(10) || i.outcome, '')
FROM interactions AS i
JOIN parties AS p ON p.id = i.party_id
WHERE p.deleted_at IS NULL;
PRAGMA application_id = 1129467185;

-- Schema version 3: sales and service — FX rates, products and price lists,
-- quotes, orders, shipments, opportunities, working calendars, SLA
-- policies and cases.
-- Money is an INTEGER of minor units beside a TEXT ISO 4217 code.

CREATE TABLE fx_rates (
    base  TEXT NOT NULL,
    quote TEXT NOT NULL,
    day   TEXT NOT NULL,
    rate  TEXT NOT NULL,
    PRIMARY KEY (base, quote, day)
) WITHOUT ROWID;

CREATE TABLE products (
    id            TEXT PRIMARY KEY,
    sku           TEXT NOT NULL UNIQUE,
    name_en       TEXT NOT NULL,
    name_zh       TEXT,
    category      TEXT,
    unit_cost     INTEGER,
    cost_currency TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE product_prices (
    product_id TEXT NOT NULL REFERENCES products (id),
    currency   TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    PRIMARY KEY (product_id, currency)
) WITHOUT ROWID;

CREATE TABLE price_lists (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    valid_from  TEXT,
    valid_until TEXT
) WITHOUT ROWID;

CREATE TABLE price_list_items (
    price_list TEXT NOT NULL REFERENCES price_lists (code),
    product_id TEXT NOT NULL REFERENCES products (id),
    amount     INTEGER NOT NULL,
    PRIMARY KEY (price_list, product_id)
) WITHOUT ROWID;

CREATE TABLE quotes (
    id          TEXT PRIMARY KEY,
    party_id    TEXT NOT NULL REFERENCES parties (id),
    owner_id    TEXT REFERENCES parties (id),
    currency    TEXT NOT NULL,
    status      TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    order_id    TEXT,
    decided_at  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX quotes_party_id ON quotes (party_id);
CREATE INDEX quotes_owner_id ON quotes (owner_id);

CREATE TABLE quote_lines (
    quote_id    TEXT NOT NULL REFERENCES quotes (id),
    line_no     INTEGER NOT NULL,
    product_id  TEXT NOT NULL REFERENCES products (id),
    quantity    INTEGER NOT NULL,
    unit_price  INTEGER NOT NULL,
    discount_bp INTEGER NOT NULL,
    unit_cost   INTEGER NOT NULL,
    net         INTEGER NOT NULL,
    cost        INTEGER NOT NULL,
    PRIMARY KEY (quote_id, line_no)
) WITHOUT ROWID;

CREATE TABLE orders (
    id          TEXT PRIMARY KEY,
    external_id TEXT UNIQUE,
    party_id    TEXT NOT NULL REFERENCES parties (id),
    owner_id    TEXT REFERENCES parties (id),
    currency    TEXT NOT NULL,
    status      TEXT NOT NULL,
    ordered_at  TEXT NOT NULL,
    quote_id    TEXT REFERENCES quotes (id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX orders_party_id ON orders (party_id, ordered_at);
CREATE INDEX orders_owner_id ON orders (owner_id, ordered_at);
CREATE INDEX orders_ordered_at ON orders (ordered_at);

-- `net` and `cost` are fixed when the line is written (price, discount and
-- unit cost at order time), so profit is a plain sum.
CREATE TABLE order_lines (
    order_id     TEXT NOT NULL REFERENCES orders (id),
    line_no      INTEGER NOT NULL,
    product_id   TEXT NOT NULL REFERENCES products (id),
    quantity     INTEGER NOT NULL,
    unit_price   INTEGER NOT NULL,
    discount_bp  INTEGER NOT NULL,
    unit_cost    INTEGER NOT NULL,
    net          INTEGER NOT NULL,
    cost         INTEGER NOT NULL,
    shipped      INTEGER NOT NULL DEFAULT 0,
    returns_line INTEGER,
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;

CREATE TABLE shipments (
    id         TEXT PRIMARY KEY,
    order_id   TEXT NOT NULL REFERENCES orders (id),
    shipped_at TEXT NOT NULL,
    carrier    TEXT,
    tracking   TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX shipments_order_id ON shipments (order_id);

CREATE TABLE shipment_lines (
    shipment_id TEXT NOT NULL REFERENCES shipments (id),
    line_no     INTEGER NOT NULL,
    quantity    INTEGER NOT NULL,
    PRIMARY KEY (shipment_id, line_no)
) WITHOUT ROWID;

CREATE TABLE pipelines (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE pipeline_stages (
    pipeline    TEXT NOT NULL REFERENCES pipelines (code),
    position    INTEGER NOT NULL,
    code        TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    name_zh     TEXT NOT NULL,
    probability INTEGER NOT NULL,
    PRIMARY KEY (pipeline, code)
) WITHOUT ROWID;

CREATE TABLE opportunities (
    id             TEXT PRIMARY KEY,
    external_id    TEXT UNIQUE,
    party_id       TEXT NOT NULL REFERENCES parties (id),
    pipeline       TEXT NOT NULL REFERENCES pipelines (code),
    title          TEXT NOT NULL,
    amount         INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    expected_close TEXT NOT NULL,
    owner_id       TEXT REFERENCES parties (id),
    stage          TEXT NOT NULL,
    status         TEXT NOT NULL,
    close_reason   TEXT,
    closed_at      TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX opportunities_party_id ON opportunities (party_id);
CREATE INDEX opportunities_owner_id ON opportunities (owner_id);
CREATE INDEX opportunities_pipeline ON opportunities (pipeline, status);

CREATE TABLE opportunity_stages (
    id             INTEGER PRIMARY KEY,
    opportunity_id TEXT NOT NULL REFERENCES opportunities (id),
    stage          TEXT NOT NULL,
    entered_at     TEXT NOT NULL,
    left_at        TEXT
);
CREATE INDEX opportunity_stages_opportunity_id ON opportunity_stages (opportunity_id);

-- `week` is a JSON array of seven arrays of {start, end} (Monday first).
CREATE TABLE calendars (
    code       TEXT PRIMARY KEY,
    time_zone  TEXT NOT NULL,
    week       TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

-- Holidays (`hours` NULL) and adjusted working days (`hours` JSON).
CREATE TABLE calendar_days (
    calendar TEXT NOT NULL REFERENCES calendars (code),
    day      TEXT NOT NULL,
    hours    TEXT,
    PRIMARY KEY (calendar, day)
) WITHOUT ROWID;

CREATE TABLE sla_policies (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    calendar   TEXT NOT NULL REFERENCES calendars (code),
    created_at TEXT NOT NULL
) WITHOUT ROWID;

-- `tier` '' is the target for any tier.
CREATE TABLE sla_targets (
    policy                 TEXT NOT NULL REFERENCES sla_policies (code),
    priority               TEXT NOT NULL,
    tier                   TEXT NOT NULL,
    first_response_minutes INTEGER,
    resolution_minutes     INTEGER,
    PRIMARY KEY (policy, priority, tier)
) WITHOUT ROWID;

-- While a clock is paused its due time is NULL and the business minutes
-- that were left are kept in `*_left`.
CREATE TABLE cases (
    id                  TEXT PRIMARY KEY,
    external_id         TEXT UNIQUE,
    party_id            TEXT NOT NULL REFERENCES parties (id),
    case_type           TEXT NOT NULL,
    priority            TEXT NOT NULL,
    channel             TEXT NOT NULL,
    subject             TEXT NOT NULL,
    description         TEXT,
    category            TEXT,
    assignee_id         TEXT REFERENCES parties (id),
    status              TEXT NOT NULL,
    sla_policy          TEXT REFERENCES sla_policies (code),
    tier                TEXT,
    opened_at           TEXT NOT NULL,
    first_response_at   TEXT,
    first_response_due  TEXT,
    first_response_left INTEGER,
    resolution_due      TEXT,
    resolution_left     INTEGER,
    resolved_at         TEXT,
    closed_at           TEXT,
    satisfaction        INTEGER,
    churn_reason        TEXT,
    interaction_id      TEXT REFERENCES interactions (id),
    escalations         INTEGER NOT NULL DEFAULT 0,
    escalated_clocks    TEXT NOT NULL DEFAULT '',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX cases_party_id ON cases (party_id);
CREATE INDEX cases_assignee_id ON cases (assignee_id);
CREATE INDEX cases_opened_at ON cases (opened_at);
CREATE INDEX cases_first_response_due ON cases (first_response_due)
    WHERE first_response_due IS NOT NULL;
CREATE INDEX cases_resolution_due ON cases (resolution_due) WHERE resolution_due IS NOT NULL;

CREATE TABLE case_history (
    id       INTEGER PRIMARY KEY,
    case_id  TEXT NOT NULL REFERENCES cases (id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    note     TEXT
);
CREATE INDEX case_history_case_id ON case_history (case_id);


-- Schema version 4: named scores per party (current value and history).

CREATE TABLE party_scores (
    party_id TEXT NOT NULL REFERENCES parties (id),
    name     TEXT NOT NULL,
    value    REAL NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (party_id, name)
) WITHOUT ROWID;
CREATE INDEX party_scores_name ON party_scores (name, value);

CREATE TABLE score_history (
    id       INTEGER PRIMARY KEY,
    party_id TEXT NOT NULL REFERENCES parties (id),
    name     TEXT NOT NULL,
    value    REAL NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX score_history_party ON score_history (party_id, name, at);

-- Schema version 5: segments (dynamic conditions in CEL, or fixed lists),
-- their members and membership history.

CREATE TABLE segments (
    name         TEXT PRIMARY KEY,
    condition    TEXT,
    created_at   TEXT NOT NULL,
    refreshed_at TEXT
) WITHOUT ROWID;

CREATE TABLE segment_members (
    segment  TEXT NOT NULL REFERENCES segments (name),
    party_id TEXT NOT NULL REFERENCES parties (id),
    since    TEXT NOT NULL,
    PRIMARY KEY (segment, party_id)
) WITHOUT ROWID;
CREATE INDEX segment_members_party_id ON segment_members (party_id);

CREATE TABLE segment_history (
    id         INTEGER PRIMARY KEY,
    segment    TEXT NOT NULL,
    party_id   TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    exited_at  TEXT
);
CREATE INDEX segment_history_party_id ON segment_history (party_id, segment);

-- Rules: a trigger (an event kind, or entering / leaving a segment), an
-- optional condition, and actions, applied in the transaction that fired
-- them.
CREATE TABLE rules (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

-- A rule fires once per event and party (a scheduled run is recorded as
-- one event).
CREATE TABLE rule_firings (
    rule      TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    party_id  TEXT NOT NULL,
    PRIMARY KEY (rule, event_seq, party_id)
) WITHOUT ROWID;

-- When each scheduled rule runs next.
CREATE TABLE rule_schedule (
    rule    TEXT PRIMARY KEY REFERENCES rules (name),
    next_at TEXT NOT NULL
) WITHOUT ROWID;

-- Messages for the application (or a plugin) to deliver; suppressed sends
-- stay with their reason.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    party_id   TEXT NOT NULL REFERENCES parties (id),
    channel    TEXT NOT NULL,
    address    TEXT,
    purpose    TEXT NOT NULL,
    content    TEXT NOT NULL,
    status     TEXT NOT NULL,
    reason     TEXT,
    rule       TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX outbox_status ON outbox (status, id);

-- Loyalty: programmes (earn rule, expiry, tiers as JSON), an append-only
-- ledger (balances are sums of it), and each member's tier.
CREATE TABLE loyalty_programs (
    name          TEXT PRIMARY KEY,
    definition    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    next_review   TEXT,
    expired_until TEXT
) WITHOUT ROWID;

CREATE TABLE loyalty_ledger (
    id         INTEGER PRIMARY KEY,
    program    TEXT NOT NULL REFERENCES loyalty_programs (name),
    party_id   TEXT NOT NULL REFERENCES parties (id),
    kind       TEXT NOT NULL CHECK (kind IN ('earn', 'redeem', 'expire', 'adjust')),
    points     INTEGER NOT NULL,
    at         TEXT NOT NULL,
    expires_at TEXT,
    lot        INTEGER REFERENCES loyalty_ledger (id),
    reason     TEXT,
    source     TEXT
);
CREATE INDEX loyalty_ledger_party ON loyalty_ledger (program, party_id, id);
CREATE INDEX loyalty_ledger_expiry ON loyalty_ledger (program, expires_at) WHERE expires_at IS NOT NULL;
-- An order earns once per programme.
CREATE UNIQUE INDEX loyalty_ledger_source ON loyalty_ledger (program, source) WHERE source IS NOT NULL;

CREATE TABLE loyalty_members (
    program  TEXT NOT NULL REFERENCES loyalty_programs (name),
    party_id TEXT NOT NULL REFERENCES parties (id),
    tier     TEXT NOT NULL,
    since    TEXT NOT NULL,
    PRIMARY KEY (program, party_id)
) WITHOUT ROWID;

-- Campaigns: the plan and variants as JSON; members with their group
-- (treatment or control, drawn reproducibly from the seed), variant and
-- the message sent.
CREATE TABLE campaigns (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT
) WITHOUT ROWID;

CREATE TABLE campaign_members (
    campaign    TEXT NOT NULL REFERENCES campaigns (name),
    party_id    TEXT NOT NULL REFERENCES parties (id),
    grp         TEXT NOT NULL CHECK (grp IN ('treatment', 'control')),
    variant     TEXT,
    enrolled_at TEXT NOT NULL,
    outbox_id   INTEGER REFERENCES outbox (id),
    cost        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign, party_id)
) WITHOUT ROWID;
CREATE INDEX campaign_members_party_id ON campaign_members (party_id);

-- Schema version 6: installed plugins, generic workflows (types registered as data by plugins
-- or the application, instances on parties or other entities, history) and
-- namespaced documents for plugins.

CREATE TABLE workflow_types (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE workflow_instances (
    id         TEXT PRIMARY KEY,
    workflow   TEXT NOT NULL REFERENCES workflow_types (name),
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX workflow_instances_entity ON workflow_instances (entity, entity_id);
CREATE INDEX workflow_instances_state ON workflow_instances (workflow, state);

CREATE TABLE workflow_history (
    id         INTEGER PRIMARY KEY,
    instance   TEXT NOT NULL REFERENCES workflow_instances (id),
    transition TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    at         TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX workflow_history_instance ON workflow_history (instance, id);

-- Documents a plugin keeps for itself, by namespace and key.
CREATE TABLE documents (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;

-- Installed plugins: the component, its manifest, what the application
-- granted, and how far the change feed has been delivered to it. The
-- library stores them; the plugin host (crm-wasm-host) runs them.
CREATE TABLE plugins (
    name         TEXT PRIMARY KEY,
    version      TEXT NOT NULL,
    manifest     TEXT NOT NULL,
    component    BLOB NOT NULL,
    grants       TEXT NOT NULL,
    cursor       INTEGER NOT NULL,
    next_tick    TEXT,
    installed_at TEXT NOT NULL
) WITHOUT ROWID;

-- Schema version 7: a plugin's component in a table of its own. The cursor
-- of a plugin moves once per delivered event; with the component in the same
-- row every move rewrote the component's bytes (SQLite rewrites a whole row
-- on update), which made delivering an event cost as much as writing the
-- plugin again.

CREATE TABLE plugin_components (
    plugin    TEXT PRIMARY KEY REFERENCES plugins (name) ON DELETE CASCADE,
    component BLOB NOT NULL
);

INSERT INTO plugin_components (plugin, component) SELECT name, component FROM plugins;

ALTER TABLE plugins DROP COLUMN component;

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

PRAGMA user_version = 8;
