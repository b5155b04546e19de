//! `plugin.toml`: what a plugin is, what it was built for, and what it asks
//! to do.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::Error;

/// The WIT versions of `crm:plugin` this host can load.
pub const SUPPORTED_WIT: &[&str] = &["0.1.0"];

/// A capability a plugin asks for and the application grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Read parties, their granted fields, contact points, relationships
    /// (interface `parties`).
    PartiesRead,
    /// Read a party's cases and orders (interface `sales`).
    SalesRead,
    /// Register, start, advance and read its workflows (interface
    /// `workflows` and the workflow actions).
    Workflows,
    /// Its own document namespace (interface `documents` and the
    /// `put-document` action).
    Documents,
    /// Open cases.
    CasesWrite,
    /// Create tasks.
    TasksWrite,
    /// Send messages through the outbox.
    MessagesSend,
    /// Set tags, stage and fields.
    PartiesWrite,
    /// Award or deduct loyalty points.
    PointsAward,
}

impl Capability {
    /// Every capability.
    pub const ALL: &'static [Capability] = &[
        Capability::PartiesRead,
        Capability::SalesRead,
        Capability::Workflows,
        Capability::Documents,
        Capability::CasesWrite,
        Capability::TasksWrite,
        Capability::MessagesSend,
        Capability::PartiesWrite,
        Capability::PointsAward,
    ];

    /// The name used in manifests and grants.
    pub fn name(self) -> &'static str {
        match self {
            Capability::PartiesRead => "parties.read",
            Capability::SalesRead => "sales.read",
            Capability::Workflows => "workflows",
            Capability::Documents => "documents",
            Capability::CasesWrite => "cases.write",
            Capability::TasksWrite => "tasks.write",
            Capability::MessagesSend => "messages.send",
            Capability::PartiesWrite => "parties.write",
            Capability::PointsAward => "points.award",
        }
    }

    /// Parses a capability name.
    ///
    /// # Errors
    ///
    /// [`Error::Manifest`] naming the known capabilities.
    pub fn parse(name: &str) -> Result<Capability, Error> {
        Capability::ALL.iter().copied().find(|c| c.name() == name.trim()).ok_or_else(|| {
            Error::Manifest(format!(
                "unknown capability `{name}` (known: {})",
                Capability::ALL.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// The host interface this capability opens, if it is a read
    /// capability.
    pub fn interface(self) -> Option<&'static str> {
        match self {
            Capability::PartiesRead => Some("parties"),
            Capability::SalesRead => Some("sales"),
            Capability::Workflows => Some("workflows"),
            Capability::Documents => Some("documents"),
            _ => None,
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    version: String,
    wit: String,
    sha256: String,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    commands: Vec<String>,
    #[serde(default)]
    tick_every_hours: Option<u32>,
}

/// A parsed and checked `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Plugin name (lower-case letters, digits and `-`); events it causes
    /// carry the actor `plugin:<name>`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The `crm:plugin` WIT version it was built for.
    pub wit: String,
    /// The sha256 of the component, lower-case hex.
    pub sha256: String,
    /// What it asks for.
    pub capabilities: BTreeSet<Capability>,
    /// Custom fields of parties it asks to read.
    pub fields: BTreeSet<String>,
    /// Event kinds it is sent.
    pub events: BTreeSet<String>,
    /// Commands it offers.
    pub commands: BTreeSet<String>,
    /// How often its tick runs (`None`: never).
    pub tick_every_hours: Option<u32>,
}

impl Manifest {
    /// Parses and checks a manifest.
    ///
    /// # Errors
    ///
    /// [`Error::Manifest`] for malformed TOML (with its line and column),
    /// a missing or unknown key, a bad name or hash, an unknown capability;
    /// [`Error::UnsupportedWit`] for a WIT version this host does not load.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = crm_wasm_host::Manifest::parse(r#"
    ///     name = "hello"
    ///     version = "1.0.0"
    ///     wit = "0.1.0"
    ///     sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    ///     capabilities = ["parties.read"]
    /// "#)?;
    /// assert_eq!(m.name, "hello");
    /// # Ok::<(), crm_wasm_host::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Manifest, Error> {
        let raw: Raw = toml::from_str(text).map_err(|e| Error::Manifest(e.to_string()))?;
        let valid_name = !raw.name.is_empty()
            && raw.name.len() <= 64
            && raw.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(Error::Manifest(format!(
                "name `{}` must be 1-64 lower-case letters, digits and `-`",
                raw.name
            )));
        }
        if !SUPPORTED_WIT.contains(&raw.wit.as_str()) {
            return Err(Error::UnsupportedWit {
                found: raw.wit,
                supported: SUPPORTED_WIT.join(", "),
            });
        }
        let sha256 = raw.sha256.to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::Manifest(format!(
                "sha256 `{}` is not 64 hexadecimal digits",
                raw.sha256
            )));
        }
        if raw.tick_every_hours == Some(0) {
            return Err(Error::Manifest("tick_every_hours must be at least 1".into()));
        }
        Ok(Manifest {
            name: raw.name,
            version: raw.version,
            wit: raw.wit,
            sha256,
            capabilities: raw
                .capabilities
                .iter()
                .map(|c| Capability::parse(c))
                .collect::<Result<_, _>>()?,
            fields: raw.fields.into_iter().collect(),
            events: raw.events.into_iter().collect(),
            commands: raw.commands.into_iter().collect(),
            tick_every_hours: raw.tick_every_hours,
        })
    }

    /// The manifest as TOML (what the registry stores).
    pub fn to_toml(&self) -> String {
        let list = |items: &mut dyn Iterator<Item = String>| {
            items.map(|i| format!("{i:?}")).collect::<Vec<_>>().join(", ")
        };
        let mut text = format!(
            "name = {:?}\nversion = {:?}\nwit = {:?}\nsha256 = {:?}\ncapabilities = [{}]\nfields = [{}]\nevents = [{}]\ncommands = [{}]\n",
            self.name,
            self.version,
            self.wit,
            self.sha256,
            list(&mut self.capabilities.iter().map(|c| c.name().to_owned())),
            list(&mut self.fields.iter().cloned()),
            list(&mut self.events.iter().cloned()),
            list(&mut self.commands.iter().cloned()),
        );
        if let Some(hours) = self.tick_every_hours {
            text.push_str(&format!("tick_every_hours = {hours}\n"));
        }
        text
    }

    /// The actor its changes are recorded under.
    pub fn actor(&self) -> String {
        format!("plugin:{}", self.name)
    }
}

/// The sha256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn text(extra: &str) -> String {
        format!(
            "name = \"hello\"\nversion = \"1.0.0\"\nwit = \"0.1.0\"\nsha256 = \"{ZEROS}\"\n{extra}"
        )
    }

    #[test]
    fn a_good_manifest_parses() {
        let m = Manifest::parse(&text(
            "capabilities = [\"parties.read\", \"cases.write\"]\nevents = [\"order.created\"]\ncommands = [\"progress\"]\ntick_every_hours = 24",
        ));
        let m = m.unwrap_or_else(|e| unreachable!("{e}"));
        assert!(m.capabilities.contains(&Capability::CasesWrite));
        assert_eq!(m.actor(), "plugin:hello");
        assert_eq!(m.tick_every_hours, Some(24));
    }

    #[test]
    fn bad_manifests_say_what_is_wrong() {
        let cases = [
            (text("capabilities = [\"everything\"]"), "unknown capability `everything`"),
            (text("colour = \"red\""), "unknown field `colour`"),
            (text("capabilities = ["), "line 5, column 17"),
            (text("").replace("0.1.0", "9.9.9"), "WIT version 9.9.9"),
            (text("").replace(ZEROS, "abc"), "not 64 hexadecimal digits"),
            (text("").replace("\"hello\"", "\"Hello World\""), "lower-case"),
            ("name = \"x\"".to_owned(), "missing field"),
        ];
        for (manifest, expected) in cases {
            let error = Manifest::parse(&manifest).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(expected), "{manifest:?}: {error}");
        }
    }

    #[test]
    fn a_manifest_round_trips_through_toml() {
        let m = Manifest::parse(&text(
            "capabilities = [\"documents\"]\nevents = [\"a.b\"]\ntick_every_hours = 6",
        ))
        .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(Manifest::parse(&m.to_toml()).ok(), Some(m));
    }

    #[test]
    fn hashes_are_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
