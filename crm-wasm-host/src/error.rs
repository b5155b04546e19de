//! The host's error type.

/// What can go wrong installing or calling a plugin. Every failure of a
/// plugin is one of these for the caller; none crashes the host or leaves a
/// change half-applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `plugin.toml` is malformed or asks for something unknown.
    #[error("invalid plugin manifest: {0}")]
    Manifest(String),
    /// The component is not the one the manifest names.
    #[error("the component's sha256 is {actual}, the manifest says {expected}")]
    HashMismatch {
        /// From the manifest.
        expected: String,
        /// Of the bytes.
        actual: String,
    },
    /// Built for a contract this host does not load.
    #[error("plugin built for crm:plugin WIT version {found}; this host loads {supported}")]
    UnsupportedWit {
        /// The version asked for.
        found: String,
        /// The versions this host loads.
        supported: String,
    },
    /// The component imports an interface it was not granted (or did not
    /// ask for).
    #[error(
        "plugin `{plugin}` imports `{import}`, which needs capability `{capability}`: not granted"
    )]
    NotGranted {
        /// The plugin.
        plugin: String,
        /// The import.
        import: String,
        /// The capability it needs.
        capability: String,
    },
    /// The component imports something no capability provides.
    #[error("plugin `{plugin}` imports `{import}`, which this host does not provide")]
    UnknownImport {
        /// The plugin.
        plugin: String,
        /// The import.
        import: String,
    },
    /// No plugin of that name is installed.
    #[error("plugin not found: {0}")]
    NotFound(String),
    /// The plugin does not offer the command.
    #[error("plugin `{plugin}` has no command `{command}` (it offers: {offered})")]
    UnknownCommand {
        /// The plugin.
        plugin: String,
        /// The command asked for.
        command: String,
        /// What it offers.
        offered: String,
    },
    /// The call ran past its deadline.
    #[error("plugin `{plugin}` ran past its {limit_ms} ms deadline and was stopped")]
    Timeout {
        /// The plugin.
        plugin: String,
        /// The deadline.
        limit_ms: u64,
    },
    /// The call used up its fuel.
    #[error("plugin `{plugin}` used up its fuel ({fuel} units) and was stopped")]
    OutOfFuel {
        /// The plugin.
        plugin: String,
        /// The fuel it had.
        fuel: u64,
    },
    /// The call hit the memory or table limit.
    #[error("plugin `{plugin}` hit its resource limit: {detail}")]
    ResourceLimit {
        /// The plugin.
        plugin: String,
        /// Which.
        detail: String,
    },
    /// The plugin trapped.
    #[error("plugin `{plugin}` trapped: {message}")]
    Trap {
        /// The plugin.
        plugin: String,
        /// What the trap said.
        message: String,
    },
    /// The plugin returned an error value.
    #[error("plugin `{plugin}` failed: {message}")]
    Plugin {
        /// The plugin.
        plugin: String,
        /// Its message.
        message: String,
        /// True when it blamed the input (`invalid-input`).
        invalid_input: bool,
    },
    /// An action the plugin returned was refused; none of its actions was
    /// applied.
    #[error("plugin `{plugin}`: action {index} ({action}) refused: {reason}; nothing was applied")]
    InvalidAction {
        /// The plugin.
        plugin: String,
        /// Its position in the returned list (0-based).
        index: usize,
        /// Its kind.
        action: String,
        /// Why.
        reason: String,
    },
    /// Too many failures in a row: calls are refused until it cools down.
    #[error(
        "plugin `{plugin}` failed {failures} times in a row; calls are refused for {retry_in_ms} ms more"
    )]
    CircuitOpen {
        /// The plugin.
        plugin: String,
        /// Consecutive failures.
        failures: u32,
        /// How long until a trial call is let through.
        retry_in_ms: u64,
    },
    /// The component could not be compiled or linked.
    #[error("cannot load plugin: {0}")]
    Load(String),
    /// The library refused something.
    #[error(transparent)]
    Crm(#[from] crm_core::Error),
}
