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
