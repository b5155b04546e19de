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
