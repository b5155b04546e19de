//! Full-text search (FTS5, trigram tokenizer) and duplicate candidates.

use rusqlite::{OptionalExtension, params};

use crate::model::{DuplicateCandidate, DuplicateReason, Page, PartyId, SearchHit};
use crate::store::Tx;
use crate::store::codec::{collect, get, get_parsed};
use crate::store::event::limit_param;

/// The text a party's index entry holds, from `parties p` (a macro so that
/// it joins other SQL at compile time: the index writer and the search's
/// result rows build the same text).
macro_rules! party_text {
    () => {
        "p.name || coalesce(char(10) || p.notes, '')"
    };
}

/// The text an interaction's index entry holds, from `interactions i`.
macro_rules! interaction_text {
    () => {
        "i.subject || coalesce(char(10) || i.body, '') || coalesce(char(10) || i.outcome, '')"
    };
}

/// Queries shorter than this many characters cannot use the trigram index.
const TRIGRAM: usize = 3;

impl Tx<'_> {
    /// Searches names, notes and interaction text of live parties. Every
    /// whitespace-separated term must occur (as a substring, case-insensitive);
    /// Chinese needs no spaces: `张伟` and `伟` both find `张伟`.
    ///
    /// Results are ranked (name matches first, then by BM25 relevance, which
    /// prefers shorter texts; at equal relevance older rows first) and
    /// paged.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`](crate::Error::Invalid) for an empty query.
    ///
    /// # Examples
    ///
    /// ```
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// crm.write(|tx| tx.create_party(crm_core::NewParty::person("张伟")).map(|_| ()))?;
    /// let hits = crm.read(|tx| tx.search("伟", 0, 10))?;
    /// assert_eq!(hits.total, 1);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn search(&self, query: &str, offset: u64, limit: u64) -> crate::Result<Page<SearchHit>> {
        let terms: Vec<&str> = query.split_whitespace().collect();
        if terms.is_empty() {
            return Err(crate::Error::invalid("query", "must not be empty"));
        }
        // Terms of 3+ characters go to the trigram index (MATCH, ranked by
        // BM25); shorter ones filter with LIKE, over the index's matches when
        // there are long terms too, else over every row.
        let (long, short): (Vec<&str>, Vec<&str>) =
            terms.iter().partition(|t| t.chars().count() >= TRIGRAM);
        let use_index = !long.is_empty();
        let mut values = Vec::new();
        if use_index {
            let expression = long
                .iter()
                .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" AND ");
            values.push(expression);
        }
        values.extend(short.iter().map(|term| format!("%{}%", escape_like(term))));
        let filter = |table: &str| -> String {
            let mut clauses = Vec::new();
            if use_index {
                clauses.push(format!("{table} MATCH ?1"));
            }
            let first_like = usize::from(use_index) + 1;
            clauses.extend(
                (first_like..first_like + short.len())
                    .map(|n| format!("{table}.text LIKE ?{n} ESCAPE '\\'")),
            );
            clauses.join(" AND ")
        };
        let rank = |table: &str| if use_index { format!("-bm25({table})") } else { "0.0".into() };
        // The party index holds live parties only (deleting, merging and
        // erasing a party remove its entry; restoring puts it back), so party
        // hits need no join to be counted or ranked: the best `offset +
        // limit` of them are picked inside the index (a bounded sort over
        // the matches' ranks) and only those are joined. Interaction entries
        // outlive a soft-deleted party, so that branch filters on the party.
        // The text shown is rebuilt from the source row (what the index was
        // built from), not read from the index's copy: reading the copy for
        // every match was a B-tree lookup per match (at a million matches,
        // most of the query's time, in page reads).
        // BM25 already prefers shorter texts; equal scores go to older rows.
        let top = limit_param(offset.saturating_add(limit));
        let sql = format!(
            "SELECT party_id, entity, entity_id, text, score, tie FROM (
                SELECT p.id AS party_id, 'party' AS entity, p.id AS entity_id,
                       {} AS text, s.score AS score, s.rowid AS tie
                FROM (SELECT rowid, {} + 1000.0 AS score FROM party_search WHERE {}
                      ORDER BY score DESC, rowid LIMIT {top}) s
                JOIN parties p ON p.rowid = s.rowid
                UNION ALL
                SELECT i.party_id, 'interaction', i.id, {}, {}, i.rowid
                FROM interaction_search JOIN interactions i ON i.rowid = interaction_search.rowid
                JOIN parties p ON p.id = i.party_id
                WHERE {} AND p.deleted_at IS NULL
            )",
            party_text!(),
            rank("party_search"),
            filter("party_search"),
            interaction_text!(),
            rank("interaction_search"),
            filter("interaction_search"),
        );
        // Counted without ranking or reading the text: counting through the
        // ranked query computed BM25 for every match (at a million matches,
        // 2.6 s of the count's 2.9 s went to that).
        let count_sql = format!(
            "SELECT (SELECT count(*) FROM party_search WHERE {})
                  + (SELECT count(*) FROM interaction_search
                     JOIN interactions i ON i.rowid = interaction_search.rowid
                     JOIN parties p ON p.id = i.party_id
                     WHERE {} AND p.deleted_at IS NULL)",
            filter("party_search"),
            filter("interaction_search"),
        );
        let total: i64 = self
            .conn
            .prepare_cached(&count_sql)?
            .query_row(rusqlite::params_from_iter(values.iter()), |row| row.get(0))?;
        let paged = format!(
            "{sql} ORDER BY score DESC, entity DESC, tie LIMIT {} OFFSET {}",
            limit_param(limit),
            limit_param(offset)
        );
        let mut stmt = self.conn.prepare_cached(&paged)?;
        let needle = terms.first().copied().unwrap_or_default();
        let items = collect(&mut stmt, rusqlite::params_from_iter(values.iter()), |row| {
            let text: String = get(row, "text")?;
            Ok(SearchHit {
                party_id: get_parsed(row, "party_id")?,
                entity: get(row, "entity")?,
                entity_id: get(row, "entity_id")?,
                snippet: snippet(&text, needle, 40),
                score: get(row, "score")?,
            })
        })?;
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }

    /// Pairs of live parties that share a normalised e-mail address, phone
    /// number or name, at most `limit` of them (e-mail first, then phone,
    /// then name).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn duplicate_candidates(&self, limit: u64) -> crate::Result<Vec<DuplicateCandidate>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a, b, reason, value FROM (
                SELECT ca.party_id AS a, cb.party_id AS b,
                       CASE WHEN ca.kind = 'email' THEN 'email' ELSE 'phone' END AS reason,
                       ca.normalized AS value,
                       CASE WHEN ca.kind = 'email' THEN 0 ELSE 1 END AS ord
                FROM contact_points ca
                JOIN contact_points cb ON cb.normalized = ca.normalized AND cb.party_id > ca.party_id
                    AND (cb.kind = ca.kind OR (ca.kind IN ('phone', 'mobile', 'fax')
                                               AND cb.kind IN ('phone', 'mobile', 'fax')))
                JOIN parties pa ON pa.id = ca.party_id AND pa.deleted_at IS NULL
                JOIN parties pb ON pb.id = cb.party_id AND pb.deleted_at IS NULL
                WHERE ca.kind IN ('email', 'phone', 'mobile', 'fax')
                UNION
                SELECT pa.id, pb.id, 'name', pa.name_key, 2
                FROM parties pa
                JOIN parties pb ON pb.name_key = pa.name_key AND pb.id > pa.id
                    AND pb.kind = pa.kind AND pb.deleted_at IS NULL
                WHERE pa.deleted_at IS NULL AND pa.name_key != ''
            )
            GROUP BY a, b, reason
            ORDER BY min(ord), a, b
            LIMIT ?1",
        )?;
        collect(&mut stmt, params![limit_param(limit)], |row| {
            Ok(DuplicateCandidate {
                a: get_parsed(row, "a")?,
                b: get_parsed(row, "b")?,
                reason: get::<String>(row, "reason")?.parse::<DuplicateReason>()?,
                value: get(row, "value")?,
            })
        })
    }

    /// Holds search-index updates back until [`Tx::flush_index`]. Bulk
    /// paths use it: FTS5 flushes its pending terms at every savepoint, so
    /// indexing row by row inside per-row savepoints costs several times the
    /// insert itself.
    pub(crate) fn defer_index(&self) {
        let mut pending = self.pending_index.borrow_mut();
        if pending.is_none() {
            *pending = Some(Vec::new());
        }
    }

    /// Applies the held-back index updates (each entry is re-read from its
    /// source row, so rolled-back or repeated entries are harmless) and keeps
    /// deferring.
    pub(crate) fn flush_index(&self) -> crate::Result<()> {
        let mut entries = match self.pending_index.borrow_mut().as_mut() {
            Some(pending) => std::mem::take(pending),
            None => return Ok(()),
        };
        // A row id seen twice (a row changed after insertion, or a rolled-back
        // row whose id was reused) gets a full refresh, once.
        entries.sort_by_key(|e| (e.table(), e.rowid(), !e.inserted()));
        let mut index = 0;
        while index < entries.len() {
            let entry = entries[index];
            let mut end = index + 1;
            while end < entries.len() && entries[end].same_row(entry) {
                end += 1;
            }
            let fresh = end == index + 1 && entry.inserted();
            self.write_index_entry(entry, fresh)?;
            index = end;
        }
        Ok(())
    }

    /// Brings the index entry of one row in line with the row: now, or at
    /// the next flush when deferring.
    pub(crate) fn index_row(&self, entry: IndexEntry) -> crate::Result<()> {
        if let Some(pending) = self.pending_index.borrow_mut().as_mut() {
            pending.push(entry);
            return Ok(());
        }
        self.write_index_entry(entry, entry.inserted())
    }

    /// Writes one row's index entry; `fresh` rows were inserted in this
    /// transaction and have no entry to delete.
    fn write_index_entry(&self, entry: IndexEntry, fresh: bool) -> crate::Result<()> {
        // The text is read first and inserted with a one-row `VALUES`: an
        // `INSERT … SELECT` runs in a statement journal, and FTS5 flushes its
        // pending terms to a new segment at every savepoint, statement
        // journals included.
        let (read, delete, insert) = match entry.table() {
            SearchTable::Party => (
                concat!(
                    "SELECT ",
                    party_text!(),
                    " FROM parties p WHERE p.rowid = ?1 AND p.deleted_at IS NULL"
                ),
                "DELETE FROM party_search WHERE rowid = ?1",
                "INSERT INTO party_search (rowid, text) VALUES (?1, ?2)",
            ),
            SearchTable::Interaction => (
                concat!(
                    "SELECT ",
                    interaction_text!(),
                    " FROM interactions i JOIN parties p ON p.id = i.party_id
                     WHERE i.rowid = ?1 AND p.deleted_at IS NULL"
                ),
                "DELETE FROM interaction_search WHERE rowid = ?1",
                "INSERT INTO interaction_search (rowid, text) VALUES (?1, ?2)",
            ),
        };
        let rowid = entry.rowid();
        if !fresh {
            self.conn.prepare_cached(delete)?.execute(params![rowid])?;
        }
        let text: Option<String> = self
            .conn
            .prepare_cached(read)?
            .query_row(params![rowid], |row| row.get(0))
            .optional()?;
        if let Some(text) = text {
            self.conn.prepare_cached(insert)?.execute(params![rowid, text])?;
        }
        Ok(())
    }

    /// Brings a party's index entry in line with its row.
    pub(crate) fn reindex_party(&self, id: PartyId) -> crate::Result<()> {
        let mut stmt = self.conn.prepare_cached("SELECT rowid FROM parties WHERE id = ?1")?;
        let rowid: Option<i64> =
            stmt.query_row(params![id.to_string()], |row| row.get(0)).optional()?;
        match rowid {
            Some(rowid) => self.index_row(IndexEntry::Party(rowid)),
            None => Ok(()),
        }
    }

    /// Brings the index entries of a party's interactions in line.
    pub(crate) fn reindex_interactions_of(&self, id: PartyId) -> crate::Result<()> {
        let mut stmt =
            self.conn.prepare_cached("SELECT rowid FROM interactions WHERE party_id = ?1")?;
        let rowids = collect(&mut stmt, params![id.to_string()], |row| get::<i64>(row, "rowid"))?;
        for rowid in rowids {
            self.index_row(IndexEntry::Interaction(rowid))?;
        }
        Ok(())
    }
}

/// The two full-text tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SearchTable {
    Party,
    Interaction,
}

/// A row whose search-index entry must be written or refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexEntry {
    /// A row of `parties` (by row id) that was changed.
    Party(i64),
    /// A row of `parties` inserted in this transaction.
    PartyInserted(i64),
    /// A row of `interactions` that was changed.
    Interaction(i64),
    /// A row of `interactions` inserted in this transaction.
    InteractionInserted(i64),
}

impl IndexEntry {
    fn rowid(self) -> i64 {
        match self {
            IndexEntry::Party(rowid)
            | IndexEntry::PartyInserted(rowid)
            | IndexEntry::Interaction(rowid)
            | IndexEntry::InteractionInserted(rowid) => rowid,
        }
    }

    fn table(self) -> SearchTable {
        match self {
            IndexEntry::Party(_) | IndexEntry::PartyInserted(_) => SearchTable::Party,
            IndexEntry::Interaction(_) | IndexEntry::InteractionInserted(_) => {
                SearchTable::Interaction
            }
        }
    }

    fn inserted(self) -> bool {
        matches!(self, IndexEntry::PartyInserted(_) | IndexEntry::InteractionInserted(_))
    }

    fn same_row(self, other: IndexEntry) -> bool {
        self.table() == other.table() && self.rowid() == other.rowid()
    }
}

fn escape_like(term: &str) -> String {
    term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Up to `width` characters of `text` around the first case-insensitive
/// occurrence of `needle`, on one line.
fn snippet(text: &str, needle: &str, width: usize) -> String {
    let flat: Vec<char> = text.chars().map(|c| if c == '\n' { ' ' } else { c }).collect();
    let lower: Vec<char> = flat.iter().flat_map(|c| c.to_lowercase()).collect();
    let needle: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
    // Lower-casing can change lengths; fall back to the start then.
    let at = if lower.len() == flat.len() && !needle.is_empty() {
        lower.windows(needle.len()).position(|w| w == needle.as_slice()).unwrap_or(0)
    } else {
        0
    };
    let start = at.saturating_sub(width / 3);
    let end = (start + width).min(flat.len());
    let mut out: String = flat[start..end].iter().collect();
    if start > 0 {
        out.insert(0, '…');
    }
    if end < flat.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_centres_on_match() {
        let text = "a".repeat(100) + "needle" + &"b".repeat(100);
        let s = snippet(&text, "NEEDLE", 30);
        assert!(s.contains("needle") && s.starts_with('…') && s.ends_with('…'), "{s}");
        assert_eq!(snippet("短文本", "文", 30), "短文本");
    }
}
