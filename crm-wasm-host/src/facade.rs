//! `crm.plugins()`: the plugin host reached from the library's handle.

use crm_core::Crm;

use crate::{Error, Limits, PluginHost};

/// The plugin host of a database. Plugins are installed, granted and called
/// through it; see [`PluginHost`].
pub type Plugins = PluginHost;

/// Gives [`Crm`] a `plugins()` handle. crm-core knows nothing of
/// WebAssembly, so the method comes from this crate: bring the trait into
/// scope (`use crm_wasm_host::CrmPlugins;`).
pub trait CrmPlugins {
    /// The plugin host for this database with default [`Limits`] and every
    /// installed plugin loaded. Plugins that no longer load are left out
    /// (see [`PluginHost::load_installed`] for the reasons).
    ///
    /// # Errors
    ///
    /// [`Error::Load`] when the engine cannot be configured; storage errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_wasm_host::CrmPlugins;
    ///
    /// let crm = crm_core::Crm::open_in_memory()?;
    /// let plugins = crm.plugins()?;
    /// assert!(plugins.list().is_empty());
    /// // Then, with a component and its manifest:
    /// //   plugins.install(&wasm, Manifest::parse(&toml)?, &[Capability::PartiesRead])?;
    /// //   plugins.call("real-estate-handover", "progress", r#"{"building":"B1"}"#)?;
    /// # Ok::<(), crm_wasm_host::Error>(())
    /// ```
    fn plugins(&self) -> Result<Plugins, Error>;

    /// As [`CrmPlugins::plugins`], with the given limits, compiled
    /// components cached in `cache` (if any), and the plugins that did not
    /// load returned with the reason.
    ///
    /// # Errors
    ///
    /// As [`CrmPlugins::plugins`].
    fn plugins_with(
        &self,
        limits: Limits,
        cache: Option<&std::path::Path>,
    ) -> Result<(Plugins, Vec<(String, Error)>), Error>;
}

impl CrmPlugins for Crm {
    fn plugins(&self) -> Result<Plugins, Error> {
        Ok(self.plugins_with(Limits::default(), None)?.0)
    }

    fn plugins_with(
        &self,
        limits: Limits,
        cache: Option<&std::path::Path>,
    ) -> Result<(Plugins, Vec<(String, Error)>), Error> {
        let mut host = PluginHost::new(self.clone(), limits)?;
        if let Some(dir) = cache {
            host = host.with_cache(dir);
        }
        let failed = host.load_installed()?;
        Ok((host, failed))
    }
}
