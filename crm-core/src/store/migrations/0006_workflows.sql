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
