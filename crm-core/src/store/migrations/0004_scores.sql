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
