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

-- A rule fires once per event.
CREATE TABLE rule_firings (
    rule      TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    PRIMARY KEY (rule, event_seq)
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
