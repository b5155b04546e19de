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
