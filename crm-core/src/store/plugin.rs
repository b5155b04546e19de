//! The registry of installed plugins. The library only stores them (the
//! component bytes, manifest, grants, change-feed cursor and next tick);
//! running them is the plugin host's job.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::Error;
use crate::store::Tx;
use crate::store::codec::{collect, get, get_opt_time, get_time, time_text};

/// An installed plugin as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPlugin {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The manifest text (`plugin.toml`).
    pub manifest: String,
    /// The component.
    pub component: Vec<u8>,
    /// The capabilities granted, by name.
    pub grants: Vec<String>,
    /// The last event delivered to it.
    pub cursor: i64,
    /// When its tick runs next (`None`: it has none).
    pub next_tick: Option<DateTime<Utc>>,
    /// When it was installed.
    pub installed_at: DateTime<Utc>,
}

const COLUMNS: &str = "name, version, manifest, component, grants, cursor, next_tick, installed_at";
const FROM: &str = "plugins JOIN plugin_components ON plugin_components.plugin = plugins.name";

fn from_row(row: &rusqlite::Row<'_>) -> crate::Result<StoredPlugin> {
    let grants: String = get(row, "grants")?;
    Ok(StoredPlugin {
        name: get(row, "name")?,
        version: get(row, "version")?,
        manifest: get(row, "manifest")?,
        component: get(row, "component")?,
        grants: serde_json::from_str(&grants)
            .map_err(|e| Error::Internal(format!("plugins.grants: {e}")))?,
        cursor: get(row, "cursor")?,
        next_tick: get_opt_time(row, "next_tick")?,
        installed_at: get_time(row, "installed_at")?,
    })
}

impl Tx<'_> {
    /// Saves a plugin (replacing one of the same name, keeping its cursor);
    /// a new one starts delivering at the next event.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an empty name.
    pub fn save_plugin(
        &mut self,
        name: &str,
        version: &str,
        manifest: &str,
        component: &[u8],
        grants: &[String],
        next_tick: Option<DateTime<Utc>>,
    ) -> crate::Result<()> {
        if name.trim().is_empty() {
            return Err(Error::invalid("name", "a plugin needs a name"));
        }
        let cursor = self.last_event_seq()?;
        self.conn.execute(
            "INSERT INTO plugins (name, version, manifest, grants, cursor, next_tick, installed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version, manifest = excluded.manifest,
               grants = excluded.grants, next_tick = excluded.next_tick,
               installed_at = excluded.installed_at",
            params![
                name,
                version,
                manifest,
                serde_json::to_string(grants)?,
                cursor,
                next_tick.map(|t| time_text(&t)),
                self.now_text.as_str()
            ],
        )?;
        self.conn.execute(
            "INSERT INTO plugin_components (plugin, component) VALUES (?1, ?2)
             ON CONFLICT (plugin) DO UPDATE SET component = excluded.component",
            params![name, component],
        )?;
        self.record_event(
            "plugin",
            name,
            "plugin.installed",
            None,
            Some(&serde_json::json!({ "version": version, "grants": grants })),
        )?;
        Ok(())
    }

    /// Every installed plugin, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn stored_plugins(&self) -> crate::Result<Vec<StoredPlugin>> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} ORDER BY name"))?;
        collect(&mut stmt, params![], from_row)
    }

    /// One installed plugin.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown name.
    pub fn stored_plugin(&self, name: &str) -> crate::Result<StoredPlugin> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} WHERE name = ?1"))?;
        collect(&mut stmt, params![name], from_row)?
            .pop()
            .ok_or_else(|| Error::not_found("plugin", name))
    }

    /// Removes a plugin; `false` when none had the name.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn remove_plugin(&mut self, name: &str) -> crate::Result<bool> {
        self.conn.execute("DELETE FROM plugin_components WHERE plugin = ?1", params![name])?;
        let removed = self.conn.execute("DELETE FROM plugins WHERE name = ?1", params![name])? > 0;
        if removed {
            self.record_event("plugin", name, "plugin.uninstalled", None, None)?;
        }
        Ok(removed)
    }

    /// Replaces a plugin's grants.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown plugin.
    pub fn set_plugin_grants(&mut self, name: &str, grants: &[String]) -> crate::Result<()> {
        let changed = self.conn.execute(
            "UPDATE plugins SET grants = ?2 WHERE name = ?1",
            params![name, serde_json::to_string(grants)?],
        )?;
        if changed == 0 {
            return Err(Error::not_found("plugin", name));
        }
        self.record_event(
            "plugin",
            name,
            "plugin.granted",
            None,
            Some(&serde_json::json!({ "grants": grants })),
        )?;
        Ok(())
    }

    /// Moves a plugin's change-feed cursor (after delivering up to `seq`).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown plugin.
    pub fn set_plugin_cursor(&mut self, name: &str, seq: i64) -> crate::Result<()> {
        let changed = self
            .conn
            .prepare_cached("UPDATE plugins SET cursor = max(cursor, ?2) WHERE name = ?1")?
            .execute(params![name, seq])?;
        if changed == 0 {
            return Err(Error::not_found("plugin", name));
        }
        Ok(())
    }

    /// Sets when a plugin's tick runs next.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown plugin.
    pub fn set_plugin_next_tick(&mut self, name: &str, at: DateTime<Utc>) -> crate::Result<()> {
        let changed = self.conn.execute(
            "UPDATE plugins SET next_tick = ?2 WHERE name = ?1",
            params![name, time_text(&at)],
        )?;
        if changed == 0 {
            return Err(Error::not_found("plugin", name));
        }
        Ok(())
    }

    /// True when a plugin of that name is installed.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn has_plugin(&self, name: &str) -> crate::Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM plugins WHERE name = ?1")?
            .query_row(params![name], |row| row.get::<_, i64>(0))
            .optional()?
            .is_some())
    }
}
