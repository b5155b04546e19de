-- Frozen schema of crm version 1 (crm-core 0.1.0 before search). Never edit.
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
PRAGMA application_id = 1129467185;
PRAGMA user_version = 1;
