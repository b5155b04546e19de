//! The component host: compile, check imports against grants, link only
//! what is granted, and run each call in a fresh, limited store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crm_core::Crm;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::manifest::{Capability, Manifest, sha256_hex};
use crate::{Error, actions};

wasmtime::component::bindgen!({
    world: "plugin",
    path: "wit/0.1.0",
    imports: { default: trappable },
});

pub(crate) use crm::plugin::types as wit;

/// Limits every call runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline of one call (epoch interruption).
    pub deadline: Duration,
    /// Largest linear memory, bytes.
    pub memory_bytes: usize,
    /// Largest table, elements.
    pub table_elements: usize,
    /// Fuel per call (`None`: unmetered).
    pub fuel: Option<u64>,
    /// Consecutive failures that open the circuit breaker.
    pub failures_to_open: u32,
    /// How long an open breaker refuses calls before letting one through.
    pub cooldown: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            deadline: Duration::from_millis(100),
            memory_bytes: 64 << 20,
            table_elements: 20_000,
            fuel: None,
            failures_to_open: 3,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// How many calls may run at once (each holds one pooled instance slot).
const POOL_SLOTS: u32 = 64;

/// How often the epoch advances; deadlines are whole ticks.
const TICK: Duration = Duration::from_millis(2);

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Commands it offers.
    pub commands: Vec<String>,
}

/// What a successful call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// The output (JSON text) for the caller.
    pub output: String,
    /// How many actions were applied (in one transaction).
    pub applied: usize,
    /// What the plugin logged, as (level, message).
    pub logs: Vec<(String, String)>,
}

/// What [`PluginHost::deliver_pending`] did.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Events delivered.
    pub delivered: u64,
    /// (plugin, event seq, error) of the deliveries that failed.
    pub failed: Vec<(String, i64, Error)>,
}

/// What [`PluginHost::run_due`] did.
#[derive(Debug)]
pub struct Due {
    /// The library's own scheduled work.
    pub library: crm_core::DueReport,
    /// Events delivered to plugins.
    pub delivered: u64,
    /// Plugin ticks run.
    pub ticks: u64,
    /// (plugin, event seq or 0 for a tick, error) of what failed.
    pub failed: Vec<(String, i64, Error)>,
}

fn parse_grants(names: &[String]) -> Result<Vec<Capability>, Error> {
    names.iter().map(|n| Capability::parse(n)).collect()
}

/// An installed plugin.
struct Loaded {
    manifest: Manifest,
    effective: BTreeSet<Capability>,
    pre: PluginPre<State>,
    metadata: Metadata,
    breaker: Mutex<Breaker>,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    opened_at: Option<Instant>,
}

/// The data of one call's store.
pub(crate) struct State {
    pub(crate) crm: Crm,
    pub(crate) plugin: String,
    pub(crate) fields: BTreeSet<String>,
    pub(crate) now: String,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    pub(crate) logs: Vec<(String, String)>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Hosts plugins for one database.
///
/// Each call instantiates the plugin afresh from a pre-linked component
/// into a new store with memory and table limits, an epoch deadline and
/// optional fuel, so nothing a call does survives it and no plugin can
/// touch another's memory. The plugin's reads go through the granted host
/// interfaces; its actions are validated and applied by the host in one
/// transaction with `plugin:<name>` as the actor.
pub struct PluginHost {
    crm: Crm,
    engine: Engine,
    limits: Limits,
    plugins: BTreeMap<String, Arc<Loaded>>,
    stop: Arc<AtomicBool>,
    cache: Option<std::path::PathBuf>,
}

impl Drop for PluginHost {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl PluginHost {
    /// A host for `crm` with the given limits. Starts one thread that
    /// advances the engine's epoch (the clock of call deadlines).
    ///
    /// # Errors
    ///
    /// [`Error::Load`] when the engine cannot be configured.
    pub fn new(crm: Crm, limits: Limits) -> Result<PluginHost, Error> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.consume_fuel(limits.fuel.is_some());
        // Instances come from a pool of pre-reserved slots that are reset,
        // not unmapped, after each call: a fresh store per call then costs
        // microseconds instead of an mmap / munmap of its memory.
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_SLOTS)
            .total_core_instances(POOL_SLOTS * 8)
            .total_memories(POOL_SLOTS * 2)
            .total_tables(POOL_SLOTS * 4)
            .max_memories_per_component(4)
            .max_memory_size(limits.memory_bytes)
            .table_elements(limits.table_elements)
            // Reset the first pages by memset rather than madvise, so the
            // next call does not fault them in again (a plugin's stack and
            // data live there).
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(64 << 10)
            // Where the kernel can say which pages a call wrote (Linux ≥
            // 6.7), only those are reset.
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| Error::Load(format!("{e:#}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = engine.clone();
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("crm-plugin-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticker.increment_epoch();
                }
            })
            .map_err(|e| Error::Load(format!("cannot start the epoch thread: {e}")))?;
        Ok(PluginHost { crm, engine, limits, plugins: BTreeMap::new(), stop, cache: None })
    }

    /// Keeps compiled components in `dir`, keyed by the component's sha256
    /// and the engine's compatibility hash, so a later install or open
    /// skips compilation. A cache entry that does not load is recompiled.
    #[must_use]
    pub fn with_cache(mut self, dir: impl Into<std::path::PathBuf>) -> PluginHost {
        self.cache = Some(dir.into());
        self
    }

    /// Compiles a component, or loads it from the cache.
    fn compile(&self, component: &[u8], sha256: &str) -> Result<Component, Error> {
        let compile =
            || Component::new(&self.engine, component).map_err(|e| Error::Load(format!("{e:#}")));
        let Some(dir) = &self.cache else { return compile() };
        let engine_key = {
            use std::hash::{Hash as _, Hasher as _};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            self.engine.precompile_compatibility_hash().hash(&mut hasher);
            hasher.finish()
        };
        let path = dir.join(format!("{sha256}-{engine_key:016x}.cwasm"));
        if path.exists() {
            // SAFETY: the file is one this host wrote from a component whose
            // hash is in its name, into the application's own cache
            // directory; wasmtime also checks that it was compiled by a
            // compatible engine and refuses it otherwise.
            if let Ok(component) = unsafe { Component::deserialize_file(&self.engine, &path) } {
                return Ok(component);
            }
        }
        let compiled = compile()?;
        if let Ok(bytes) = compiled.serialize() {
            // A cache that cannot be written only costs time.
            // A name of its own, so hosts in other processes writing the same
            // entry never interleave; the rename is atomic.
            let unique = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let tmp = path.with_extension(format!("{}-{unique}.tmp", std::process::id()));
            if std::fs::create_dir_all(dir).is_ok() && std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
        Ok(compiled)
    }

    /// A host for `crm` with every plugin installed in it loaded. Plugins
    /// that no longer load (a WIT version this host dropped, a grant
    /// withdrawn) are left out and returned with the reason.
    ///
    /// # Errors
    ///
    /// [`Error::Load`] when the engine cannot be configured; storage errors.
    pub fn open(crm: Crm, limits: Limits) -> Result<(PluginHost, Vec<(String, Error)>), Error> {
        let mut host = PluginHost::new(crm, limits)?;
        let failed = host.load_installed()?;
        Ok((host, failed))
    }

    /// Loads every plugin installed in the database (through the compile
    /// cache, if the host has one), replacing any loaded under the same
    /// name. Plugins that no longer load are left out and returned with the
    /// reason.
    ///
    /// # Errors
    ///
    /// Storage errors.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use crm_wasm_host::{Limits, PluginHost};
    /// let crm = crm_core::Crm::open("customers.db")?;
    /// let mut host = PluginHost::new(crm, Limits::default())?.with_cache("plugin-cache");
    /// for (name, error) in host.load_installed()? {
    ///     eprintln!("{name} does not load: {error}");
    /// }
    /// # Ok::<(), crm_wasm_host::Error>(())
    /// ```
    pub fn load_installed(&mut self) -> Result<Vec<(String, Error)>, Error> {
        let mut failed = Vec::new();
        for stored in self.crm.read(|tx| tx.stored_plugins())? {
            let loaded = Manifest::parse(&stored.manifest).and_then(|manifest| {
                let grants = parse_grants(&stored.grants)?;
                self.load(&stored.component, manifest, &grants)
            });
            match loaded {
                Ok(loaded) => {
                    self.plugins.insert(stored.name, Arc::new(loaded));
                }
                Err(error) => failed.push((stored.name, error)),
            }
        }
        Ok(failed)
    }

    /// Installs a plugin: checks the component against the manifest's hash,
    /// compiles it, checks that it imports only what the manifest asks for
    /// and the application grants (`grants`), links exactly that, asks the
    /// plugin for its metadata (which must match the manifest), and saves
    /// it in the database (replacing an older version, keeping its place in
    /// the change feed).
    ///
    /// # Errors
    ///
    /// [`Error::HashMismatch`], [`Error::NotGranted`],
    /// [`Error::UnknownImport`], [`Error::Load`], or a call error; nothing
    /// is installed then.
    pub fn install(
        &mut self,
        component: &[u8],
        manifest: Manifest,
        grants: &[Capability],
    ) -> Result<Metadata, Error> {
        let loaded = self.load(component, manifest, grants)?;
        let metadata = loaded.metadata.clone();
        let manifest = &loaded.manifest;
        let grant_names: Vec<String> = grants.iter().map(|g| g.name().to_owned()).collect();
        let next_tick = manifest
            .tick_every_hours
            .map(|h| self.crm.now() + chrono::Duration::hours(i64::from(h)));
        self.crm.write_as(&manifest.actor(), |tx| {
            tx.save_plugin(
                &manifest.name,
                &manifest.version,
                &manifest.to_toml(),
                component,
                &grant_names,
                next_tick,
            )
        })?;
        self.plugins.insert(manifest.name.clone(), Arc::new(loaded));
        Ok(metadata)
    }

    /// Grants more capabilities to an installed plugin (relinking it).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; a load error (the grants stay as they were).
    pub fn grant(&mut self, name: &str, capabilities: &[Capability]) -> Result<(), Error> {
        let stored = self.crm.read(|tx| tx.stored_plugin(name))?;
        let mut grants = parse_grants(&stored.grants)?;
        for c in capabilities {
            if !grants.contains(c) {
                grants.push(*c);
            }
        }
        self.regrant(&stored, &grants)
    }

    /// Withdraws capabilities. A plugin whose component imports an interface
    /// it would lose keeps its grants and the call fails with
    /// [`Error::NotGranted`].
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::NotGranted`].
    pub fn revoke(&mut self, name: &str, capabilities: &[Capability]) -> Result<(), Error> {
        let stored = self.crm.read(|tx| tx.stored_plugin(name))?;
        let grants: Vec<Capability> = parse_grants(&stored.grants)?
            .into_iter()
            .filter(|c| !capabilities.contains(c))
            .collect();
        self.regrant(&stored, &grants)
    }

    fn regrant(
        &mut self,
        stored: &crm_core::StoredPlugin,
        grants: &[Capability],
    ) -> Result<(), Error> {
        let manifest = Manifest::parse(&stored.manifest)?;
        let loaded = self.load(&stored.component, manifest, grants)?;
        let names: Vec<String> = grants.iter().map(|g| g.name().to_owned()).collect();
        self.crm.write(|tx| tx.set_plugin_grants(&stored.name, &names))?;
        self.plugins.insert(stored.name.clone(), Arc::new(loaded));
        Ok(())
    }

    fn load(
        &self,
        component: &[u8],
        manifest: Manifest,
        grants: &[Capability],
    ) -> Result<Loaded, Error> {
        let actual = sha256_hex(component);
        if actual != manifest.sha256 {
            return Err(Error::HashMismatch { expected: manifest.sha256, actual });
        }
        let compiled = self.compile(component, &actual)?;
        let effective: BTreeSet<Capability> =
            manifest.capabilities.iter().copied().filter(|c| grants.contains(c)).collect();
        check_imports(&self.engine, &compiled, &manifest.name, &effective)?;
        let linker = linker(&self.engine, &effective)?;
        let pre = linker
            .instantiate_pre(&compiled)
            .and_then(PluginPre::new)
            .map_err(|e| Error::Load(format!("{e:#}")))?;
        let mut loaded = Loaded {
            metadata: Metadata {
                name: String::new(),
                version: String::new(),
                commands: Vec::new(),
            },
            manifest,
            effective,
            pre,
            breaker: Mutex::new(Breaker::default()),
        };
        let metadata =
            self.run(&loaded, |guest, store| Ok(Ok(guest.call_metadata(&mut *store)?)))?;
        let metadata = Metadata {
            name: metadata.name,
            version: metadata.version,
            commands: metadata.commands,
        };
        if metadata.name != loaded.manifest.name {
            return Err(Error::Manifest(format!(
                "the manifest names `{}` but the component calls itself `{}`",
                loaded.manifest.name, metadata.name
            )));
        }
        loaded.metadata = metadata;
        Ok(loaded)
    }

    /// Removes a plugin (and its registry entry); `false` when none had that
    /// name.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn uninstall(&mut self, name: &str) -> Result<bool, Error> {
        let stored = self.crm.write(|tx| tx.remove_plugin(name))?;
        Ok(self.plugins.remove(name).is_some() || stored)
    }

    /// Delivers the change feed to every installed plugin: each event of a
    /// kind it subscribed to (and not caused by itself) since its cursor, in
    /// order, at least once — its actions and the cursor move commit
    /// together. A plugin that fails stops at that event and is retried on
    /// the next call.
    ///
    /// # Errors
    ///
    /// Storage errors; a plugin's failure is reported, not returned.
    pub fn deliver_pending(&self) -> Result<Delivery, Error> {
        let mut report = Delivery::default();
        for stored in self.crm.read(|tx| tx.stored_plugins())? {
            let Some(loaded) = self.plugins.get(&stored.name) else { continue };
            let actor = loaded.manifest.actor();
            let mut cursor = stored.cursor;
            'feed: loop {
                let events = self.crm.read(|tx| tx.events_since(cursor, 500))?;
                let Some(last) = events.last().map(|e| e.seq) else { break };
                for event in events {
                    if !loaded.manifest.events.contains(&event.kind) || event.actor == actor {
                        continue;
                    }
                    match self.deliver(&stored.name, &event) {
                        Ok(_) => report.delivered += 1,
                        Err(error) => {
                            report.failed.push((stored.name.clone(), event.seq, error));
                            break 'feed;
                        }
                    }
                }
                self.crm.write(|tx| tx.set_plugin_cursor(&stored.name, last))?;
                cursor = last;
            }
        }
        Ok(report)
    }

    /// Runs what is due at `now`: the library's own work
    /// ([`Crm::run_due`](crm_core::Crm::run_due)), pending event deliveries,
    /// and the plugins' scheduled ticks.
    ///
    /// # Errors
    ///
    /// Storage errors; a plugin's failure is reported, not returned.
    pub fn run_due(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Due, Error> {
        let library = self.crm.run_due(now)?;
        let mut delivery = self.deliver_pending()?;
        let mut ticks = 0;
        for stored in self.crm.read(|tx| tx.stored_plugins())? {
            let (Some(loaded), Some(next)) = (self.plugins.get(&stored.name), stored.next_tick)
            else {
                continue;
            };
            let Some(hours) = loaded.manifest.tick_every_hours else { continue };
            if next > now {
                continue;
            }
            let stamp = now.to_rfc3339();
            match self
                .call_and_apply(loaded, None, |guest, store| guest.call_tick(&mut *store, &stamp))
            {
                Ok(_) => ticks += 1,
                Err(error) => delivery.failed.push((stored.name.clone(), 0, error)),
            }
            let mut next = next;
            while next <= now {
                next += chrono::Duration::hours(i64::from(hours));
            }
            self.crm.write(|tx| tx.set_plugin_next_tick(&stored.name, next))?;
        }
        Ok(Due { library, delivered: delivery.delivered, ticks, failed: delivery.failed })
    }

    /// The installed plugins' metadata, by name.
    pub fn list(&self) -> Vec<Metadata> {
        self.plugins.values().map(|p| p.metadata.clone()).collect()
    }

    /// The capabilities a plugin holds (asked for and granted).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`].
    pub fn capabilities(&self, name: &str) -> Result<Vec<Capability>, Error> {
        Ok(self.get(name)?.effective.iter().copied().collect())
    }

    fn get(&self, name: &str) -> Result<Arc<Loaded>, Error> {
        self.plugins.get(name).cloned().ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    /// Calls a command with JSON arguments and applies the actions it
    /// returns.
    ///
    /// # Errors
    ///
    /// Every way a call can fail, as a typed [`Error`]; the database is
    /// unchanged unless the call succeeded.
    pub fn call(&self, name: &str, command: &str, args: &str) -> Result<CallOutcome, Error> {
        let loaded = self.get(name)?;
        if !loaded.manifest.commands.contains(command) {
            return Err(Error::UnknownCommand {
                plugin: name.to_owned(),
                command: command.to_owned(),
                offered: loaded.manifest.commands.iter().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        self.call_and_apply(&loaded, None, |guest, store| {
            guest.call_command(&mut *store, command, args)
        })
    }

    /// Delivers one event to a plugin that subscribed to its kind (others
    /// are skipped: `Ok(None)`).
    ///
    /// # Errors
    ///
    /// As [`PluginHost::call`].
    pub fn deliver(
        &self,
        name: &str,
        event: &crm_core::Event,
    ) -> Result<Option<CallOutcome>, Error> {
        let loaded = self.get(name)?;
        if !loaded.manifest.events.contains(&event.kind) {
            return Ok(None);
        }
        // The party an event is about: the entity itself, or the
        // `party_id` of an order, case, interaction, … after the change.
        let from_after = event
            .after
            .as_ref()
            .and_then(|a| a.get("party_id"))
            .and_then(|p| p.as_str())
            .map(str::to_owned);
        let party = match event.entity.as_str() {
            "party" => Some(event.entity_id.clone()),
            _ if from_after.is_some() => from_after,
            "order" => match event.entity_id.parse() {
                Ok(id) => self.crm.read(|tx| tx.get_order(id)).ok().map(|o| o.party_id.to_string()),
                Err(_) => None,
            },
            "case" => match event.entity_id.parse() {
                Ok(id) => self.crm.read(|tx| tx.get_case(id)).ok().map(|c| c.party_id.to_string()),
                Err(_) => None,
            },
            _ => None,
        };
        let wit_event = wit::Event {
            seq: event.seq,
            kind: event.kind.clone(),
            entity: event.entity.clone(),
            entity_id: event.entity_id.clone(),
            party_id: party,
            actor: event.actor.clone(),
            at: event.at.to_rfc3339(),
            after: event.after.as_ref().map(ToString::to_string),
        };
        // Every loaded plugin is in the registry (installing stores it
        // first), so the cursor moves with the actions.
        let delivered = Some(event.seq);
        self.call_and_apply(&loaded, delivered, |guest, store| {
            guest.call_on_event(&mut *store, &wit_event)
        })
        .map(Some)
    }

    fn call_and_apply(
        &self,
        loaded: &Loaded,
        delivered: Option<i64>,
        f: impl FnOnce(
            &exports::crm::plugin::guest::Guest,
            &mut Store<State>,
        ) -> wasmtime::Result<Result<wit::Outcome, wit::PluginError>>,
    ) -> Result<CallOutcome, Error> {
        let mut logs = Vec::new();
        let outcome = self.run_logged(loaded, &mut logs, f)?;
        let applied = outcome.actions.len();
        let result = actions::apply(
            &self.crm,
            &loaded.manifest,
            &loaded.effective,
            outcome.actions,
            delivered,
        );
        self.record(loaded, result.is_ok());
        result?;
        Ok(CallOutcome { output: outcome.output, applied, logs })
    }

    fn run<R>(
        &self,
        loaded: &Loaded,
        f: impl FnOnce(
            &exports::crm::plugin::guest::Guest,
            &mut Store<State>,
        ) -> wasmtime::Result<Result<R, wit::PluginError>>,
    ) -> Result<R, Error> {
        self.run_logged(loaded, &mut Vec::new(), f)
    }

    /// One call in a fresh store, with the breaker checked before and
    /// updated after.
    fn run_logged<R>(
        &self,
        loaded: &Loaded,
        logs: &mut Vec<(String, String)>,
        f: impl FnOnce(
            &exports::crm::plugin::guest::Guest,
            &mut Store<State>,
        ) -> wasmtime::Result<Result<R, wit::PluginError>>,
    ) -> Result<R, Error> {
        let plugin = loaded.manifest.name.clone();
        self.check_breaker(loaded)?;
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .table_elements(self.limits.table_elements)
            .trap_on_grow_failure(true)
            .build();
        let state = State {
            crm: self.crm.clone(),
            plugin: plugin.clone(),
            fields: loaded.manifest.fields.clone(),
            now: self.crm.now().to_rfc3339(),
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits,
            logs: Vec::new(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let ticks = (self.limits.deadline.as_millis() / TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        if let Some(fuel) = self.limits.fuel {
            store.set_fuel(fuel).map_err(|e| Error::Load(format!("{e:#}")))?;
        }
        let result = loaded
            .pre
            .instantiate(&mut store)
            .and_then(|instance| f(instance.crm_plugin_guest(), &mut store));
        logs.append(&mut store.data_mut().logs);
        match result {
            Ok(Ok(value)) => {
                self.record(loaded, true);
                Ok(value)
            }
            Ok(Err(error)) => {
                // The plugin answered: not a failure of the plugin.
                self.record(loaded, true);
                let (message, invalid_input) = match error {
                    wit::PluginError::InvalidInput(m) => (m, true),
                    wit::PluginError::Failed(m) => (m, false),
                };
                Err(Error::Plugin { plugin, message, invalid_input })
            }
            Err(error) => {
                self.record(loaded, false);
                Err(self.classify(&plugin, &error))
            }
        }
    }

    fn classify(&self, plugin: &str, error: &wasmtime::Error) -> Error {
        let plugin = plugin.to_owned();
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Error::Timeout {
                plugin,
                limit_ms: u64::try_from(self.limits.deadline.as_millis()).unwrap_or(u64::MAX),
            },
            Some(Trap::OutOfFuel) => {
                Error::OutOfFuel { plugin, fuel: self.limits.fuel.unwrap_or(0) }
            }
            _ => {
                let message = format!("{error:#}");
                if message.contains("forcing trap when growing") {
                    Error::ResourceLimit { plugin, detail: message }
                } else {
                    Error::Trap { plugin, message }
                }
            }
        }
    }

    fn check_breaker(&self, loaded: &Loaded) -> Result<(), Error> {
        let breaker = loaded.breaker.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(opened) = breaker.opened_at {
            let waited = opened.elapsed();
            if waited < self.limits.cooldown {
                return Err(Error::CircuitOpen {
                    plugin: loaded.manifest.name.clone(),
                    failures: breaker.failures,
                    retry_in_ms: u64::try_from((self.limits.cooldown - waited).as_millis())
                        .unwrap_or(u64::MAX),
                });
            }
            // Half open: this call is the trial.
        }
        Ok(())
    }

    fn record(&self, loaded: &Loaded, ok: bool) {
        let mut breaker = loaded.breaker.lock().unwrap_or_else(PoisonError::into_inner);
        if ok {
            *breaker = Breaker::default();
        } else {
            breaker.failures += 1;
            if breaker.failures >= self.limits.failures_to_open {
                breaker.opened_at = Some(Instant::now());
            }
        }
    }
}

/// Checks every import of the component: `crm:plugin` interfaces need
/// their capability, `wasi:` ones are served deny-all, anything else is
/// unknown.
fn check_imports(
    engine: &Engine,
    component: &Component,
    plugin: &str,
    effective: &BTreeSet<Capability>,
) -> Result<(), Error> {
    for (name, _) in component.component_type().exports(engine) {
        if let Some(rest) = name.strip_prefix("crm:plugin/") {
            let version = rest.split_once('@').map_or("", |(_, v)| v);
            if !crate::manifest::SUPPORTED_WIT.contains(&version) {
                return Err(Error::UnsupportedWit {
                    found: version.to_owned(),
                    supported: crate::manifest::SUPPORTED_WIT.join(", "),
                });
            }
        }
    }
    for (name, _) in component.component_type().imports(engine) {
        if name.starts_with("wasi:") {
            continue;
        }
        let Some(rest) = name.strip_prefix("crm:plugin/") else {
            return Err(Error::UnknownImport {
                plugin: plugin.to_owned(),
                import: name.to_owned(),
            });
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        if !crate::manifest::SUPPORTED_WIT.contains(&version) {
            return Err(Error::UnsupportedWit {
                found: if version.is_empty() { "(none)".to_owned() } else { version.to_owned() },
                supported: crate::manifest::SUPPORTED_WIT.join(", "),
            });
        }
        if matches!(interface, "types" | "log" | "clock") {
            continue;
        }
        let Some(capability) = Capability::ALL.iter().find(|c| c.interface() == Some(interface))
        else {
            return Err(Error::UnknownImport {
                plugin: plugin.to_owned(),
                import: name.to_owned(),
            });
        };
        if !effective.contains(capability) {
            return Err(Error::NotGranted {
                plugin: plugin.to_owned(),
                import: name.to_owned(),
                capability: capability.name().to_owned(),
            });
        }
    }
    Ok(())
}

/// A linker with WASI (deny-all context), the always-available interfaces,
/// and the granted ones — nothing else.
fn linker(engine: &Engine, effective: &BTreeSet<Capability>) -> Result<Linker<State>, Error> {
    let load = |e: wasmtime::Error| Error::Load(format!("{e:#}"));
    let mut linker = Linker::<State>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(load)?;
    crm::plugin::types::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).map_err(load)?;
    crm::plugin::log::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).map_err(load)?;
    crm::plugin::clock::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).map_err(load)?;
    for capability in effective {
        match capability {
            Capability::PartiesRead => {
                crm::plugin::parties::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            }
            Capability::SalesRead => {
                crm::plugin::sales::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            }
            Capability::Workflows => {
                crm::plugin::workflows::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            }
            Capability::Documents => {
                crm::plugin::documents::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            }
            _ => Ok(()),
        }
        .map_err(load)?;
    }
    Ok(linker)
}
