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
