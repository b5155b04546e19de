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
