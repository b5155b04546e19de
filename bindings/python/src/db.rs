//! `crm.Crm`: a database handle. Every call releases the GIL while the
//! library works; `with db.transaction():` groups calls into one write.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use crm_core::{
    Channel, ContactKind, ContactPointId, Currency, Direction, FieldDef, FieldType, ImportKind,
    ImportOptions, LifecycleStage, NewContactPoint, NewInteraction, NewParty, NewRelationship,
    NewTask, PartyFilter, PartyId, PartyKind, PartyPatch, Period, PeriodUnit, Role, TaskId, Tx,
};
use crm_wasm_host::{Capability, CrmPlugins, Manifest, PluginHost};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use serde_json::Value;

use crate::convert::{Record, from_json, to_json};
use crate::errors;

type Job = Box<dyn FnOnce(&mut Tx<'_>) + Send>;

enum Message {
    Job(Job),
    Finish { commit: bool },
}

/// An open `with db.transaction():` block: a thread holding the library's
/// write closure, running the calls made on the opening thread.
struct Open {
    thread: std::thread::ThreadId,
    jobs: mpsc::Sender<Message>,
    done: mpsc::Receiver<crm_core::Result<()>>,
}

/// A `crm` database: parties, contact points and consent, relationships,
/// interactions, tasks, search, merge, privacy, the change feed, imports,
/// sales and service reports, rules, segments, campaigns, loyalty and
/// plugins.
///
/// Open a file with ``Crm(path)`` (created and migrated as needed) or a
/// throw-away database with ``Crm.memory()``. Records come back as
/// immutable :class:`Record` objects (``party.name``, ``party.to_dict()``).
#[pyclass(frozen, module = "crm._crm")]
pub struct Crm {
    crm: crm_core::Crm,
    open: Mutex<Option<Open>>,
    plugins: Mutex<Option<PluginHost>>,
}

fn core<T>(result: crm_core::Result<T>) -> PyResult<T> {
    result.map_err(errors::core)
}

fn party_id(key: &str) -> crm_core::Result<PartyId> {
    key.parse()
}

/// Resolves an id or an external id (`system:value`) to a party id.
fn resolve(tx: &Tx<'_>, key: &str) -> crm_core::Result<PartyId> {
    match key.parse::<PartyId>() {
        Ok(id) => Ok(id),
        Err(_) => Ok(tx.resolve_party(key)?.id),
    }
}

fn date(text: Option<&str>, field: &str) -> PyResult<Option<NaiveDate>> {
    text.map(|t| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map_err(|_| errors::invalid(field, format!("`{t}` is not a date (YYYY-MM-DD)")))
    })
    .transpose()
}

fn time(text: Option<&str>, field: &str) -> PyResult<Option<DateTime<Utc>>> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .or_else(|_| {
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
            })
            .map_err(|_| errors::invalid(field, format!("`{t}` is not an RFC 3339 time or a date")))
    })
    .transpose()
}

/// A date or datetime argument as text (`datetime`, `date` or `str`).
fn when(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => match to_json(o)? {
            Value::String(s) => Ok(Some(s)),
            other => Err(errors::invalid("date", format!("{other} is not a date or time"))),
        },
    }
}

/// A Python value as the text a custom field parses.
fn field_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn field_def(tx: &Tx<'_>, name: &str) -> crm_core::Result<FieldDef> {
    tx.field_def(name)?
        .ok_or_else(|| crm_core::Error::NotFound { entity: "field", id: name.to_owned() })
}

/// Order or quote lines from Python: dicts with `sku`, `quantity`, and
/// optional `unit_price` (text, in the document's currency) and
/// `discount_bp`.
fn lines(items: &Bound<'_, PyAny>, currency: Currency) -> PyResult<Vec<crm_core::NewLine>> {
    let mut out = Vec::new();
    for (index, item) in items.try_iter()?.enumerate() {
        let field = |name: &str| format!("lines[{index}].{name}");
        let value = to_json(&item?)?;
        let sku = value
            .get("sku")
            .and_then(Value::as_str)
            .ok_or_else(|| errors::invalid(&field("sku"), "a line needs a sku"))?;
        let quantity = value
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| errors::invalid(&field("quantity"), "a line needs a whole quantity"))?;
        let mut line = crm_core::NewLine::new(sku, quantity);
        if let Some(price) = value.get("unit_price").filter(|v| !v.is_null()) {
            let text = field_text(price);
            line = line.at(core(crm_core::Money::parse(&text, currency))?);
        }
        if let Some(bp) = value.get("discount_bp").and_then(Value::as_u64) {
            line.discount_bp = u32::try_from(bp)
                .map_err(|_| errors::invalid(&field("discount_bp"), "too large"))?;
        }
        out.push(line);
    }
    Ok(out)
}

fn import_kind(kind: &str) -> PyResult<ImportKind> {
    Ok(match kind {
        "parties" => ImportKind::Parties,
        "relationships" => ImportKind::Relationships,
        "interactions" => ImportKind::Interactions,
        "products" => ImportKind::Products,
        "orders" => ImportKind::Orders,
        "opportunities" => ImportKind::Opportunities,
        "cases" => ImportKind::Cases,
        "fx-rates" | "fx_rates" => ImportKind::FxRates,
        other => {
            return Err(errors::invalid(
                "kind",
                format!(
                    "`{other}` is not an import kind (parties, relationships, interactions, products, orders, opportunities, cases, fx-rates)"
                ),
            ));
        }
    })
}

fn import_options(
    skip_invalid: bool,
    batch_size: Option<usize>,
    column_map: Option<BTreeMap<String, String>>,
    default_country: Option<String>,
) -> ImportOptions {
    let mut options = ImportOptions::default();
    if skip_invalid {
        options = options.skip_invalid();
    }
    if let Some(rows) = batch_size {
        options = options.batch_size(rows);
    }
    for (from, to) in column_map.unwrap_or_default() {
        options = options.map_column(from, to);
    }
    if let Some(country) = default_country {
        options = options.default_country(country);
    }
    options.progress_every(10_000)
}

/// Calls `progress(rows_read, rows_committed)` from an import running
/// without the GIL; an exception in the callback is printed, not raised.
fn reporter(progress: Option<Py<PyAny>>) -> impl FnMut(&crm_core::ImportProgress) + Send + 'static {
    move |p: &crm_core::ImportProgress| {
        if let Some(callback) = &progress {
            Python::attach(|py| {
                if let Err(e) = callback.call1(py, (p.rows_read, p.rows_committed)) {
                    e.print(py);
                }
            });
        }
    }
}

/// One column of a data frame / dict of lists as cells of text.
fn column_cells(obj: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let values = if obj.hasattr("tolist")? { obj.call_method0("tolist")? } else { obj.clone() };
    let mut cells = Vec::new();
    for item in values.try_iter()? {
        let item = item?;
        let text = if item.is_none() {
            String::new()
        } else if let Ok(s) = item.cast::<pyo3::types::PyString>() {
            // A type check, not a failed extraction: numeric columns of a
            // million rows would otherwise build and drop an error per cell.
            s.to_str()?.to_owned()
        } else if let Ok(f) = item.cast::<pyo3::types::PyFloat>() {
            let f = f.value();
            if f.is_nan() { String::new() } else { f.to_string() }
        } else {
            match to_json(&item)? {
                Value::String(s) => s,
                other => other.to_string(),
            }
        };
        cells.push(text);
    }
    Ok(cells)
}

impl Crm {
    fn new_handle(crm: crm_core::Crm) -> Crm {
        Crm { crm, open: Mutex::new(None), plugins: Mutex::new(None) }
    }

    /// Runs `f` in a write: inside the open transaction when this thread
    /// opened one, else in a write of its own. The GIL is released.
    fn write<T: Send + 'static>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Tx<'_>) -> crm_core::Result<T> + Send + 'static,
    ) -> PyResult<T> {
        if let Some(sender) = self.transaction_sender() {
            let (reply, answer) = mpsc::channel();
            let job: Job = Box::new(move |tx| {
                let _ = reply.send(f(tx));
            });
            sender
                .send(Message::Job(job))
                .map_err(|_| errors::internal("the transaction's thread has stopped"))?;
            return core(
                py.detach(move || answer.recv())
                    .map_err(|_| errors::internal("the transaction's thread has stopped"))?,
            );
        }
        let crm = self.crm.clone();
        core(py.detach(move || crm.write(f)))
    }

    /// Runs `f` in a read (inside the open transaction when this thread
    /// opened one, so it sees its writes).
    fn read<T: Send + 'static>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Tx<'_>) -> crm_core::Result<T> + Send + 'static,
    ) -> PyResult<T> {
        if self.transaction_sender().is_some() {
            return self.write(py, move |tx| f(tx));
        }
        let crm = self.crm.clone();
        core(py.detach(move || crm.read(f)))
    }

    fn transaction_sender(&self) -> Option<mpsc::Sender<Message>> {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.as_ref().filter(|o| o.thread == std::thread::current().id()).map(|o| o.jobs.clone())
    }

    /// Writes `f` on the party `key` names (an id or an external id) and
    /// returns what it returns as a record of `kind`.
    fn write_party<T: serde::Serialize + Send + Sync + 'static>(
        &self,
        py: Python<'_>,
        kind: &'static str,
        key: String,
        f: impl FnOnce(&mut Tx<'_>, PartyId) -> crm_core::Result<T> + Send + 'static,
    ) -> PyResult<Record> {
        let value = self.write(py, move |tx| {
            let id = resolve(tx, &key)?;
            f(tx, id)
        })?;
        Record::new(kind, value)
    }

    /// Reads a list about the party `key` names, as records of `kind`.
    fn read_party_list<T: serde::Serialize + Send + Sync + 'static>(
        &self,
        py: Python<'_>,
        kind: &'static str,
        key: String,
        f: impl FnOnce(&Tx<'_>, PartyId) -> crm_core::Result<Vec<T>> + Send + 'static,
    ) -> PyResult<Vec<Record>> {
        let items = self.read(py, move |tx| {
            let id = resolve(tx, &key)?;
            f(tx, id)
        })?;
        records(kind, items)
    }

    fn outside_transaction(&self, what: &str) -> PyResult<()> {
        if self.open.lock().unwrap_or_else(PoisonError::into_inner).is_some() {
            return Err(errors::core(crm_core::Error::Conflict {
                reason: format!("{what} cannot run inside `with db.transaction():`"),
            }));
        }
        Ok(())
    }

    fn with_plugins<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut PluginHost) -> Result<T, crm_wasm_host::Error> + Send,
    ) -> PyResult<T> {
        self.outside_transaction("a plugin")?;
        py.detach(|| {
            let mut guard = self.plugins.lock().unwrap_or_else(PoisonError::into_inner);
            if guard.is_none() {
                *guard = Some(self.crm.plugins()?);
            }
            match guard.as_mut() {
                Some(host) => f(host),
                None => Err(crm_wasm_host::Error::Load("no plugin host".into())),
            }
        })
        .map_err(errors::plugin)
    }
}

fn records<T: serde::Serialize + Send + Sync + 'static>(
    kind: &'static str,
    items: Vec<T>,
) -> PyResult<Vec<Record>> {
    Record::list(kind, items)
}

#[pymethods]
impl Crm {
    /// Opens (creating and migrating as needed) the database at ``path``.
    #[new]
    /// ``busy_timeout`` (seconds) is how long a write waits for another
    /// process's write lock before :class:`StorageError` (``busy``).
    #[pyo3(signature = (path, *, actor = "app", must_exist = false, busy_timeout = 10.0))]
    fn py_new(
        py: Python<'_>,
        path: std::path::PathBuf,
        actor: &str,
        must_exist: bool,
        busy_timeout: f64,
    ) -> PyResult<Crm> {
        let timeout = std::time::Duration::try_from_secs_f64(busy_timeout).map_err(|_| {
            errors::invalid("busy_timeout", format!("{busy_timeout} is not a duration in seconds"))
        })?;
        let mut builder = crm_core::Crm::builder().actor(actor).busy_timeout(timeout);
        if must_exist {
            builder = builder.must_exist();
        }
        Ok(Crm::new_handle(core(py.detach(move || builder.open(path)))?))
    }

    /// A database in memory, gone when the handle is.
    #[staticmethod]
    fn memory() -> PyResult<Crm> {
        Ok(Crm::new_handle(core(crm_core::Crm::open_in_memory())?))
    }

    /// The file, or ``None`` in memory.
    #[getter]
    fn path(&self) -> Option<String> {
        self.crm.path().map(|p| p.display().to_string())
    }

    fn __repr__(&self) -> String {
        match self.crm.path() {
            Some(p) => format!("Crm('{}')", p.display()),
            None => "Crm.memory()".to_owned(),
        }
    }

    /// ``with db.transaction():`` — the calls in the block (on this
    /// thread) commit together when it ends, or roll back if it raises.
    fn transaction(slf: Py<Crm>) -> Transaction {
        Transaction { crm: slf }
    }

    // ----- parties -----------------------------------------------------

    /// Creates a party. ``kind`` is ``"person"`` or ``"organization"``;
    /// ``fields`` are custom field values (each field defined first).
    #[pyo3(signature = (name, *, kind = "person", roles = Vec::new(), tags = Vec::new(), email = None, phone = None, mobile = None, wechat = None, language = None, currency = None, stage = None, external_ids = Vec::new(), fields = None, notes = None))]
    #[allow(clippy::too_many_arguments)]
    fn create_party(
        &self,
        py: Python<'_>,
        name: String,
        kind: &str,
        roles: Vec<String>,
        tags: Vec<String>,
        email: Option<String>,
        phone: Option<String>,
        mobile: Option<String>,
        wechat: Option<String>,
        language: Option<String>,
        currency: Option<String>,
        stage: Option<String>,
        external_ids: Vec<String>,
        fields: Option<Bound<'_, PyDict>>,
        notes: Option<String>,
    ) -> PyResult<Record> {
        let kind: PartyKind = core(kind.parse())?;
        let mut new = NewParty::new(kind, name);
        for role in roles {
            new = new.with_role(core(role.parse::<Role>())?);
        }
        for tag in tags {
            new = new.with_tag(tag);
        }
        for (contact, value) in [
            (ContactKind::Email, email),
            (ContactKind::Phone, phone),
            (ContactKind::Mobile, mobile),
            (ContactKind::WeChat, wechat),
        ] {
            if let Some(value) = value {
                new = new.with_contact(contact, value);
            }
        }
        if let Some(language) = language {
            new = new.with_language(language);
        }
        if let Some(currency) = currency {
            new = new.with_currency(core(Currency::new(&currency))?);
        }
        if let Some(stage) = stage {
            new = new.with_stage(core(stage.parse::<LifecycleStage>())?);
        }
        for external in external_ids {
            let id = core(crm_core::ExternalId::parse(&external))?;
            new = new.with_external_id(id.system, id.value);
        }
        if let Some(notes) = notes {
            new = new.with_notes(notes);
        }
        let mut texts = Vec::new();
        if let Some(fields) = fields {
            for (k, v) in fields.iter() {
                texts.push((k.extract::<String>()?, field_text(&to_json(&v)?)));
            }
        }
        let party = self.write(py, move |tx| {
            for (name, text) in texts {
                let def = field_def(tx, &name)?;
                new.fields.insert(name, def.parse(&text)?);
            }
            tx.create_party(new)
        })?;
        Record::new("Party", party)
    }

    /// A party by id or external id (``"erp:C-1001"``). A party merged
    /// into another comes back with ``merged_into`` set.
    fn get_party(&self, py: Python<'_>, key: String) -> PyResult<Record> {
        let party = self.read(py, move |tx| tx.resolve_party(&key))?;
        Record::new("Party", party)
    }

    /// Like :meth:`get_party`, ``None`` when there is none.
    fn find_party(&self, py: Python<'_>, key: String) -> PyResult<Option<Record>> {
        let party = self.read(py, move |tx| match tx.resolve_party(&key) {
            Ok(p) => Ok(Some(p)),
            Err(crm_core::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        })?;
        party.map(|p| Record::new("Party", p)).transpose()
    }

    /// Live parties, filtered; newest first.
    #[pyo3(signature = (*, kind = None, role = None, stage = None, tag = None, offset = 0, limit = 100))]
    #[allow(clippy::too_many_arguments)]
    fn list_parties(
        &self,
        py: Python<'_>,
        kind: Option<String>,
        role: Option<String>,
        stage: Option<String>,
        tag: Option<String>,
        offset: u64,
        limit: u64,
    ) -> PyResult<Vec<Record>> {
        let mut filter = PartyFilter::default().page(offset, limit);
        if let Some(kind) = kind {
            filter = filter.kind(core(kind.parse())?);
        }
        if let Some(role) = role {
            filter = filter.role(core(role.parse())?);
        }
        if let Some(stage) = stage {
            filter = filter.stage(core(stage.parse())?);
        }
        if let Some(tag) = tag {
            filter = filter.tag(tag);
        }
        let page = self.read(py, move |tx| tx.list_parties(&filter))?;
        records("Party", page.items)
    }

    /// The number of live parties.
    fn count_parties(&self, py: Python<'_>) -> PyResult<u64> {
        self.read(py, |tx| tx.count_parties())
    }

    /// Changes a party's name, language or notes.
    #[pyo3(signature = (key, *, name = None, language = None, notes = None))]
    fn update_party(
        &self,
        py: Python<'_>,
        key: String,
        name: Option<String>,
        language: Option<String>,
        notes: Option<String>,
    ) -> PyResult<Record> {
        self.write_party(py, "Party", key, move |tx, id| {
            let mut patch = PartyPatch::default();
            if let Some(name) = name {
                patch = patch.with_name(name);
            }
            if language.is_some() {
                patch = patch.with_language(language);
            }
            if notes.is_some() {
                patch = patch.with_notes(notes);
            }
            tx.update_party(id, patch)
        })
    }

    /// Adds a tag.
    fn add_tag(&self, py: Python<'_>, key: String, tag: String) -> PyResult<Record> {
        self.write_party(py, "Party", key, move |tx, id| tx.add_tag(id, &tag))
    }

    /// Removes a tag.
    fn remove_tag(&self, py: Python<'_>, key: String, tag: String) -> PyResult<Record> {
        self.write_party(py, "Party", key, move |tx, id| tx.remove_tag(id, &tag))
    }

    /// Moves a party to a lifecycle stage (``"lead"``, ``"customer"``, …).
    #[pyo3(signature = (key, stage, *, reason = None))]
    fn set_stage(
        &self,
        py: Python<'_>,
        key: String,
        stage: String,
        reason: Option<String>,
    ) -> PyResult<Record> {
        let stage: LifecycleStage = core(stage.parse())?;
        self.write_party(py, "Party", key, move |tx, id| tx.set_stage(id, stage, reason.as_deref()))
    }

    /// Defines a custom field: ``type`` is ``"text"``, ``"integer"``,
    /// ``"decimal"``, ``"bool"``, ``"date"`` or ``"enum"`` (with
    /// ``choices``).
    #[pyo3(signature = (name, field_type, *, choices = Vec::new()))]
    fn define_field(
        &self,
        py: Python<'_>,
        name: String,
        field_type: &str,
        choices: Vec<String>,
    ) -> PyResult<()> {
        let field_type = match field_type {
            "text" => FieldType::Text,
            "integer" => FieldType::Integer,
            "decimal" => FieldType::Decimal,
            "bool" => FieldType::Bool,
            "date" => FieldType::Date,
            "enum" => FieldType::Enum(choices),
            other => {
                return Err(errors::invalid(
                    "field_type",
                    format!("`{other}` is not text, integer, decimal, bool, date or enum"),
                ));
            }
        };
        self.write(py, move |tx| tx.define_field(FieldDef::new(name, field_type)))
    }

    /// Sets a custom field (defined first).
    fn set_field(
        &self,
        py: Python<'_>,
        key: String,
        name: String,
        value: Bound<'_, PyAny>,
    ) -> PyResult<Record> {
        let text = field_text(&to_json(&value)?);
        self.write_party(py, "Party", key, move |tx, id| {
            let value = field_def(tx, &name)?.parse(&text)?;
            tx.set_field(id, &name, value)
        })
    }

    // ----- contact points and consent ------------------------------------

    /// Adds a contact point (``kind``: email, phone, mobile, fax, wechat,
    /// web, address), with consent granted for ``consent`` purposes.
    #[pyo3(signature = (key, kind, value, *, label = None, country = None, consent = Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn add_contact(
        &self,
        py: Python<'_>,
        key: String,
        kind: String,
        value: String,
        label: Option<String>,
        country: Option<String>,
        consent: Vec<String>,
    ) -> PyResult<Record> {
        let kind: ContactKind = core(kind.parse())?;
        let mut new = NewContactPoint::new(kind, value);
        if let Some(label) = label {
            new = new.with_label(label);
        }
        if let Some(country) = country {
            new = new.with_country(country);
        }
        for purpose in consent {
            new = new.with_consent(purpose, true, "python");
        }
        self.write_party(py, "ContactPoint", key, move |tx, id| tx.add_contact_point(id, new))
    }

    /// Records consent (``granted``) or its withdrawal for a purpose on a
    /// contact point.
    #[pyo3(signature = (contact_id, purpose, granted, *, source = String::from("python")))]
    fn record_consent(
        &self,
        py: Python<'_>,
        contact_id: String,
        purpose: String,
        granted: bool,
        source: String,
    ) -> PyResult<Record> {
        let id: ContactPointId = core(contact_id.parse())?;
        let contact =
            self.write(py, move |tx| tx.record_consent(id, &purpose, granted, &source))?;
        Record::new("ContactPoint", contact)
    }

    // ----- relationships ---------------------------------------------------

    /// Relates two parties (``kind``: ``"subsidiary-of"``, ``"works-for"``,
    /// … or a type defined by the application).
    #[pyo3(signature = (source, kind, target, *, role = None, since = None, until = None))]
    #[allow(clippy::too_many_arguments)]
    fn relate(
        &self,
        py: Python<'_>,
        source: String,
        kind: String,
        target: String,
        role: Option<String>,
        since: Option<Bound<'_, PyAny>>,
        until: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Record> {
        let since = date(when(since.as_ref())?.as_deref(), "since")?;
        let until = date(when(until.as_ref())?.as_deref(), "until")?;
        let relationship = self.write(py, move |tx| {
            let from = resolve(tx, &source)?;
            let to = resolve(tx, &target)?;
            let mut new = NewRelationship::new(from, kind, to).during(since, until);
            if let Some(role) = role {
                new = new.with_role(role);
            }
            tx.relate(new)
        })?;
        Record::new("Relationship", relationship)
    }

    /// A party's relationships (active today, or on ``at``).
    #[pyo3(signature = (key, *, at = None))]
    fn relationships_of(
        &self,
        py: Python<'_>,
        key: String,
        at: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Record>> {
        let at = date(when(at.as_ref())?.as_deref(), "at")?;
        self.read_party_list(py, "Relationship", key, move |tx, id| tx.relationships_of(id, at))
    }

    /// The chain above a party along ``kind`` (parent, grandparent, …).
    #[pyo3(signature = (key, kind, *, at = None))]
    fn ancestors(
        &self,
        py: Python<'_>,
        key: String,
        kind: String,
        at: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Record>> {
        let at = date(when(at.as_ref())?.as_deref(), "at")?;
        self.read_party_list(py, "HierarchyNode", key, move |tx, id| tx.ancestors(id, &kind, at))
    }

    /// Everything below a party along ``kind``, with depths.
    #[pyo3(signature = (key, kind, *, at = None))]
    fn descendants(
        &self,
        py: Python<'_>,
        key: String,
        kind: String,
        at: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Record>> {
        let at = date(when(at.as_ref())?.as_deref(), "at")?;
        self.read_party_list(py, "HierarchyNode", key, move |tx, id| tx.descendants(id, &kind, at))
    }

    // ----- interactions and tasks ------------------------------------------

    /// Records an interaction (``channel``: visit, call, email, wechat,
    /// …; ``direction``: inbound or outbound) at ``at`` (default now).
    #[pyo3(signature = (key, channel, direction, subject, *, at = None, body = None, outcome = None))]
    #[allow(clippy::too_many_arguments)]
    fn record_interaction(
        &self,
        py: Python<'_>,
        key: String,
        channel: String,
        direction: String,
        subject: String,
        at: Option<Bound<'_, PyAny>>,
        body: Option<String>,
        outcome: Option<String>,
    ) -> PyResult<Record> {
        let channel: Channel = core(channel.parse())?;
        let direction: Direction = core(direction.parse())?;
        let at = time(when(at.as_ref())?.as_deref(), "at")?;
        self.write_party(py, "Interaction", key, move |tx, id| {
            let mut new =
                NewInteraction::new(id, channel, direction, at.unwrap_or(tx.now()), subject);
            if let Some(body) = body {
                new = new.with_body(body);
            }
            if let Some(outcome) = outcome {
                new = new.with_outcome(outcome);
            }
            tx.record_interaction(new)
        })
    }

    /// A party's interactions, newest first.
    #[pyo3(signature = (key, *, offset = 0, limit = 100))]
    fn interactions_of(
        &self,
        py: Python<'_>,
        key: String,
        offset: u64,
        limit: u64,
    ) -> PyResult<Vec<Record>> {
        let page = self.read(py, move |tx| {
            let id = resolve(tx, &key)?;
            tx.interactions_of(id, offset, limit)
        })?;
        records("Interaction", page.items)
    }

    /// Creates a task due at ``due_at``, about a party and assigned to
    /// another, if given.
    #[pyo3(signature = (title, due_at, *, about = None, assignee = None, notes = None))]
    fn create_task(
        &self,
        py: Python<'_>,
        title: String,
        due_at: Bound<'_, PyAny>,
        about: Option<String>,
        assignee: Option<String>,
        notes: Option<String>,
    ) -> PyResult<Record> {
        let due = time(when(Some(&due_at))?.as_deref(), "due_at")?
            .ok_or_else(|| errors::invalid("due_at", "a task needs a due time"))?;
        let task = self.write(py, move |tx| {
            let mut new = NewTask::new(title, due);
            if let Some(about) = about {
                new = new.about(resolve(tx, &about)?);
            }
            if let Some(assignee) = assignee {
                new = new.assigned_to(resolve(tx, &assignee)?);
            }
            if let Some(notes) = notes {
                new = new.with_notes(notes);
            }
            tx.create_task(new)
        })?;
        Record::new("Task", task)
    }

    /// Marks a task done.
    fn complete_task(&self, py: Python<'_>, task_id: String) -> PyResult<Record> {
        let id: TaskId = core(task_id.parse())?;
        let task = self.write(py, move |tx| tx.complete_task(id))?;
        Record::new("Task", task)
    }

    /// The tasks about a party.
    fn tasks_of(&self, py: Python<'_>, key: String) -> PyResult<Vec<Record>> {
        self.read_party_list(py, "Task", key, move |tx, id| tx.tasks_of(id))
    }

    // ----- search, duplicates, merge, privacy, events -----------------------

    /// Full-text search over names, contact points, notes and interactions
    /// (Chinese included), best first.
    #[pyo3(signature = (query, *, offset = 0, limit = 20))]
    fn search(
        &self,
        py: Python<'_>,
        query: String,
        offset: u64,
        limit: u64,
    ) -> PyResult<Vec<Record>> {
        let page = self.read(py, move |tx| tx.search(&query, offset, limit))?;
        records("SearchHit", page.items)
    }

    /// Pairs of parties that look like the same customer, with reasons.
    #[pyo3(signature = (*, limit = 100))]
    fn duplicates(&self, py: Python<'_>, limit: u64) -> PyResult<Vec<Record>> {
        let items = self.read(py, move |tx| tx.duplicate_candidates(limit))?;
        records("DuplicateCandidate", items)
    }

    /// Merges ``absorb`` into ``keep`` (reversible with :meth:`unmerge`).
    fn merge(&self, py: Python<'_>, keep: String, absorb: String) -> PyResult<Record> {
        let report = self.write(py, move |tx| {
            let keep = resolve(tx, &keep)?;
            let absorb = resolve(tx, &absorb)?;
            tx.merge(keep, absorb)
        })?;
        Record::new("MergeReport", report)
    }

    /// Undoes a merge, bringing the absorbed party back.
    fn unmerge(&self, py: Python<'_>, absorbed: String) -> PyResult<Record> {
        let id = core(party_id(&absorbed))?;
        let party = self.write(py, move |tx| tx.unmerge(id))?;
        Record::new("Party", party)
    }

    /// Everything stored about a party (a data-subject access request), as
    /// plain Python values.
    fn export_party<'py>(&self, py: Python<'py>, key: String) -> PyResult<Bound<'py, PyAny>> {
        let value = self.read(py, move |tx| {
            let id = resolve(tx, &key)?;
            tx.export_party(id)
        })?;
        from_json(py, &value)
    }

    /// Erases a party's personal data (right to be forgotten); orders and
    /// aggregates keep their numbers.
    fn erase_party(&self, py: Python<'_>, key: String) -> PyResult<()> {
        self.write(py, move |tx| {
            let id = resolve(tx, &key)?;
            tx.erase_party(id)
        })
    }

    /// Events after ``seq`` in order (the change feed).
    #[pyo3(signature = (seq = 0, *, limit = 1000))]
    fn events_since(&self, py: Python<'_>, seq: i64, limit: u64) -> PyResult<Vec<Record>> {
        let events = self.read(py, move |tx| tx.events_since(seq, limit))?;
        records("Event", events)
    }

    /// The sequence number of the newest event.
    fn last_event_seq(&self, py: Python<'_>) -> PyResult<i64> {
        self.read(py, |tx| tx.last_event_seq())
    }

    // ----- imports ----------------------------------------------------------

    /// Imports a CSV or JSON Lines file. ``kind``: parties, relationships,
    /// interactions, products, orders, opportunities, cases, fx-rates. All
    /// or nothing unless ``skip_invalid``; bad rows are in the report's
    /// ``errors``. ``progress(rows_read, rows_committed)`` is called as it
    /// goes. Runs without the GIL.
    #[pyo3(signature = (kind, path, *, skip_invalid = false, batch_size = None, column_map = None, default_country = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn import_file(
        &self,
        py: Python<'_>,
        kind: &str,
        path: std::path::PathBuf,
        skip_invalid: bool,
        batch_size: Option<usize>,
        column_map: Option<BTreeMap<String, String>>,
        default_country: Option<String>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Record> {
        self.outside_transaction("an import")?;
        let kind = import_kind(kind)?;
        let options = import_options(skip_invalid, batch_size, column_map, default_country);
        let crm = self.crm.clone();
        let mut report = reporter(progress);
        let result = py.detach(move || crm.import_file(kind, &path, &options, &mut report));
        Record::new("ImportReport", core(result)?)
    }

    /// Imports from columns: a dict of lists / numpy arrays, or a pandas
    /// DataFrame, with the same columns, checks and report as a file (rows
    /// numbered from 1). ``None`` and NaN are empty cells.
    #[pyo3(signature = (kind, data, *, skip_invalid = false, batch_size = None, column_map = None, default_country = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn import_columns(
        &self,
        py: Python<'_>,
        kind: &str,
        data: Bound<'_, PyAny>,
        skip_invalid: bool,
        batch_size: Option<usize>,
        column_map: Option<BTreeMap<String, String>>,
        default_country: Option<String>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Record> {
        self.outside_transaction("an import")?;
        let kind = import_kind(kind)?;
        let mut columns = Vec::new();
        for name in data.try_iter()? {
            let name = name?;
            let column: String = name
                .extract()
                .map_err(|_| errors::invalid("data", "column names must be strings"))?;
            let cells = column_cells(&data.get_item(&name)?)?;
            columns.push((column, cells));
        }
        let options = import_options(skip_invalid, batch_size, column_map, default_country);
        let crm = self.crm.clone();
        let mut report = reporter(progress);
        let result = py.detach(move || crm.import_columns(kind, columns, &options, &mut report));
        Record::new("ImportReport", core(result)?)
    }

    // ----- sales and service ------------------------------------------------

    /// Saves pipelines, working calendars, SLA policies and price lists
    /// from a set-up document (a dict, or its JSON text) in one
    /// transaction; see the library's `setup` documentation for the keys.
    fn setup(&self, py: Python<'_>, document: Bound<'_, PyAny>) -> PyResult<Record> {
        let text = match document.extract::<String>() {
            Ok(text) => text,
            Err(_) => to_json(&document)?.to_string(),
        };
        let setup = core(crm_core::Setup::from_json(&text))?;
        let report = self.write(py, move |tx| tx.apply_setup(&setup))?;
        Record::new("SetupReport", report)
    }

    /// Creates an order: ``lines`` are dicts with ``sku``, ``quantity``
    /// and optional ``unit_price`` (text) and ``discount_bp``; prices,
    /// discounts and unit costs are fixed when written. ``status``
    /// ``"draft"`` (default) or ``"confirmed"``.
    #[pyo3(signature = (party, currency, lines, *, ordered_at = None, status = "draft", owner = None, price_list = None, external_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn create_order(
        &self,
        py: Python<'_>,
        party: String,
        currency: String,
        lines: Bound<'_, PyAny>,
        ordered_at: Option<Bound<'_, PyAny>>,
        status: &str,
        owner: Option<String>,
        price_list: Option<String>,
        external_id: Option<String>,
    ) -> PyResult<Record> {
        let currency = core(Currency::new(&currency))?;
        let items = self::lines(&lines, currency)?;
        let status: crm_core::OrderStatus = core(status.parse())?;
        let at = time(when(ordered_at.as_ref())?.as_deref(), "ordered_at")?;
        let order = self.write(py, move |tx| {
            let id = resolve(tx, &party)?;
            let mut new = crm_core::NewOrder::new(id, currency, at.unwrap_or(tx.now()));
            new.status = status;
            new.price_list = price_list;
            new.external_id = external_id;
            if let Some(owner) = owner {
                new.owner = Some(resolve(tx, &owner)?);
            }
            new.lines = items;
            tx.create_order(new)
        })?;
        Record::new("Order", order)
    }

    /// An order by id.
    fn get_order(&self, py: Python<'_>, order_id: String) -> PyResult<Record> {
        let id: crm_core::OrderId = core(order_id.parse())?;
        let order = self.read(py, move |tx| tx.get_order(id))?;
        Record::new("Order", order)
    }

    /// A party's orders.
    fn orders_of(&self, py: Python<'_>, key: String) -> PyResult<Vec<Record>> {
        self.read_party_list(py, "Order", key, move |tx, id| tx.orders_of(id))
    }

    /// Moves an order along its status machine (``"confirmed"``,
    /// ``"invoiced"``, ``"paid"``, ``"cancelled"``, …).
    fn set_order_status(&self, py: Python<'_>, order_id: String, status: &str) -> PyResult<Record> {
        let id: crm_core::OrderId = core(order_id.parse())?;
        let status: crm_core::OrderStatus = core(status.parse())?;
        let order = self.write(py, move |tx| tx.set_order_status(id, status))?;
        Record::new("Order", order)
    }

    /// Ships ``lines`` — ``(line number, quantity)`` pairs — of an order.
    #[pyo3(signature = (order_id, lines, *, shipped_at = None, carrier = None, tracking = None))]
    fn ship(
        &self,
        py: Python<'_>,
        order_id: String,
        lines: Vec<(u32, i64)>,
        shipped_at: Option<Bound<'_, PyAny>>,
        carrier: Option<String>,
        tracking: Option<String>,
    ) -> PyResult<Record> {
        let id: crm_core::OrderId = core(order_id.parse())?;
        let at = time(when(shipped_at.as_ref())?.as_deref(), "shipped_at")?;
        let shipment = self.write(py, move |tx| {
            let mut new = crm_core::NewShipment::new(id, at.unwrap_or(tx.now()));
            for (line, quantity) in lines {
                new = new.with_line(line, quantity);
            }
            new.carrier = carrier;
            new.tracking = tracking;
            tx.ship(new)
        })?;
        Record::new("Shipment", shipment)
    }

    /// Returns ``(line number, quantity)`` items of a shipped order (as
    /// negative lines).
    fn return_items(
        &self,
        py: Python<'_>,
        order_id: String,
        items: Vec<(u32, i64)>,
    ) -> PyResult<Record> {
        let id: crm_core::OrderId = core(order_id.parse())?;
        let order = self.write(py, move |tx| tx.return_items(id, &items))?;
        Record::new("Order", order)
    }

    /// Creates a quote valid until ``valid_until``; lines as for
    /// :meth:`create_order`.
    #[pyo3(signature = (party, currency, valid_until, lines, *, owner = None, price_list = None))]
    #[allow(clippy::too_many_arguments)]
    fn create_quote(
        &self,
        py: Python<'_>,
        party: String,
        currency: String,
        valid_until: Bound<'_, PyAny>,
        lines: Bound<'_, PyAny>,
        owner: Option<String>,
        price_list: Option<String>,
    ) -> PyResult<Record> {
        let currency = core(Currency::new(&currency))?;
        let items = self::lines(&lines, currency)?;
        let until = date(when(Some(&valid_until))?.as_deref(), "valid_until")?
            .ok_or_else(|| errors::invalid("valid_until", "required"))?;
        let quote = self.write(py, move |tx| {
            let id = resolve(tx, &party)?;
            let mut new = crm_core::NewQuote::new(id, currency, until);
            new.price_list = price_list;
            if let Some(owner) = owner {
                new.owner = Some(resolve(tx, &owner)?);
            }
            new.lines = items;
            tx.create_quote(new)
        })?;
        Record::new("Quote", quote)
    }

    /// Accepts a quote: it becomes a confirmed order (returned).
    fn accept_quote(&self, py: Python<'_>, quote_id: String) -> PyResult<Record> {
        let id: crm_core::QuoteId = core(quote_id.parse())?;
        let order = self.write(py, move |tx| tx.accept_quote(id))?;
        Record::new("Order", order)
    }

    /// Rejects a quote.
    fn reject_quote(&self, py: Python<'_>, quote_id: String) -> PyResult<Record> {
        let id: crm_core::QuoteId = core(quote_id.parse())?;
        let quote = self.write(py, move |tx| tx.reject_quote(id))?;
        Record::new("Quote", quote)
    }

    /// Moves an opportunity to another stage of its pipeline.
    fn move_opportunity(
        &self,
        py: Python<'_>,
        opportunity_id: String,
        stage: String,
    ) -> PyResult<Record> {
        let id: crm_core::OpportunityId = core(opportunity_id.parse())?;
        let opportunity = self.write(py, move |tx| tx.move_opportunity(id, &stage))?;
        Record::new("Opportunity", opportunity)
    }

    /// Closes an opportunity as won (``reason`` optional) or lost
    /// (``reason`` required: price, competitor, no-budget, …).
    #[pyo3(signature = (opportunity_id, won, *, reason = None))]
    fn close_opportunity(
        &self,
        py: Python<'_>,
        opportunity_id: String,
        won: bool,
        reason: Option<String>,
    ) -> PyResult<Record> {
        let id: crm_core::OpportunityId = core(opportunity_id.parse())?;
        let reason: Option<crm_core::CloseReason> =
            reason.map(|r| r.parse()).transpose().map_err(errors::core)?;
        let opportunity = self.write(py, move |tx| match (won, reason) {
            (true, reason) => tx.win_opportunity(id, reason),
            (false, Some(reason)) => tx.lose_opportunity(id, reason),
            (false, None) => Err(crm_core::Error::Invalid {
                at: crm_core::Location::field("reason"),
                reason: "a lost opportunity needs a reason".into(),
            }),
        })?;
        Record::new("Opportunity", opportunity)
    }

    /// Opens a service case (``case_type``: repair, complaint, inquiry,
    /// …; ``priority``: low, normal, high, urgent) under an SLA policy.
    #[pyo3(signature = (party, case_type, priority, channel, subject, *, description = None, assignee = None, sla_policy = None, opened_at = None))]
    #[allow(clippy::too_many_arguments)]
    fn open_case(
        &self,
        py: Python<'_>,
        party: String,
        case_type: String,
        priority: String,
        channel: String,
        subject: String,
        description: Option<String>,
        assignee: Option<String>,
        sla_policy: Option<String>,
        opened_at: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Record> {
        let case_type: crm_core::CaseType = core(case_type.parse())?;
        let priority: crm_core::Priority = core(priority.parse())?;
        let channel: Channel = core(channel.parse())?;
        let at = time(when(opened_at.as_ref())?.as_deref(), "opened_at")?;
        let case = self.write(py, move |tx| {
            let id = resolve(tx, &party)?;
            let mut new = crm_core::NewCase::new(id, case_type, priority, channel, subject);
            new.description = description;
            new.sla_policy = sla_policy;
            new.opened_at = at;
            if let Some(assignee) = assignee {
                new.assignee = Some(resolve(tx, &assignee)?);
            }
            tx.open_case(new)
        })?;
        Record::new("Case", case)
    }

    /// A case by id.
    fn get_case(&self, py: Python<'_>, case_id: String) -> PyResult<Record> {
        let id: crm_core::CaseId = core(case_id.parse())?;
        let case = self.read(py, move |tx| tx.get_case(id))?;
        Record::new("Case", case)
    }

    /// The cases of a party, or all.
    #[pyo3(signature = (key = None))]
    fn cases(&self, py: Python<'_>, key: Option<String>) -> PyResult<Vec<Record>> {
        let cases = self.read(py, move |tx| {
            let id = key.map(|k| resolve(tx, &k)).transpose()?;
            tx.cases(id)
        })?;
        records("Case", cases)
    }

    /// Moves a case along its status machine (``"open"``, ``"waiting"``
    /// pauses the SLA clocks, ``"resolved"``, ``"closed"``,
    /// ``"reopened"``).
    #[pyo3(signature = (case_id, status, *, note = None))]
    fn set_case_status(
        &self,
        py: Python<'_>,
        case_id: String,
        status: String,
        note: Option<String>,
    ) -> PyResult<Record> {
        let id: crm_core::CaseId = core(case_id.parse())?;
        let status: crm_core::CaseStatus = core(status.parse())?;
        let case = self.write(py, move |tx| tx.set_case_status(id, status, note.as_deref()))?;
        Record::new("Case", case)
    }

    /// Records the first response to a case (now, or ``at``).
    #[pyo3(signature = (case_id, *, at = None))]
    fn respond_to_case(
        &self,
        py: Python<'_>,
        case_id: String,
        at: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Record> {
        let id: crm_core::CaseId = core(case_id.parse())?;
        let at = time(when(at.as_ref())?.as_deref(), "at")?;
        let case = self.write(py, move |tx| tx.respond_to_case(id, at))?;
        Record::new("Case", case)
    }

    /// Assigns a case.
    fn assign_case(&self, py: Python<'_>, case_id: String, assignee: String) -> PyResult<Record> {
        let id: crm_core::CaseId = core(case_id.parse())?;
        let case = self.write(py, move |tx| {
            let to = resolve(tx, &assignee)?;
            tx.assign_case(id, to)
        })?;
        Record::new("Case", case)
    }

    /// Records the customer's satisfaction (1–5) and, if they left, why.
    #[pyo3(signature = (case_id, *, satisfaction = None, churn_reason = None))]
    fn rate_case(
        &self,
        py: Python<'_>,
        case_id: String,
        satisfaction: Option<u8>,
        churn_reason: Option<String>,
    ) -> PyResult<Record> {
        let id: crm_core::CaseId = core(case_id.parse())?;
        let reason: Option<crm_core::ChurnReason> =
            churn_reason.map(|r| r.parse()).transpose().map_err(errors::core)?;
        let case = self.write(py, move |tx| tx.rate_case(id, satisfaction, reason))?;
        Record::new("Case", case)
    }

    // ----- workflows --------------------------------------------------------

    /// Registers (or evolves) a workflow type owned by ``owner``: states,
    /// the initial one, transitions with the actors that may take them and
    /// the data they require.
    fn register_workflow_type(
        &self,
        py: Python<'_>,
        owner: String,
        definition: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let definition: crm_core::WorkflowType = serde_json::from_value(to_json(&definition)?)
            .map_err(|e| errors::invalid("definition", e.to_string()))?;
        self.write(py, move |tx| tx.register_workflow_type(&owner, definition))
    }

    /// Starts a workflow on an entity (``"party"`` and a party id, or any
    /// entity of the application's).
    #[pyo3(signature = (workflow, entity, entity_id, data = None))]
    fn start_workflow(
        &self,
        py: Python<'_>,
        workflow: String,
        entity: String,
        entity_id: String,
        data: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Record> {
        let data = data.map(|d| to_json(&d)).transpose()?.unwrap_or_else(|| serde_json::json!({}));
        let instance =
            self.write(py, move |tx| tx.start_workflow(&workflow, &entity, &entity_id, data))?;
        Record::new("WorkflowInstance", instance)
    }

    /// Takes a transition (refused when the type does not allow it from
    /// the current state, for this actor, or without its required data).
    #[pyo3(signature = (workflow_id, transition, data = None))]
    fn advance_workflow(
        &self,
        py: Python<'_>,
        workflow_id: String,
        transition: String,
        data: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Record> {
        let id: crm_core::WorkflowId = core(workflow_id.parse())?;
        let data = data.map(|d| to_json(&d)).transpose()?.unwrap_or_else(|| serde_json::json!({}));
        let instance = self.write(py, move |tx| tx.advance_workflow(id, &transition, data))?;
        Record::new("WorkflowInstance", instance)
    }

    /// A workflow instance and its steps so far.
    fn get_workflow(&self, py: Python<'_>, workflow_id: String) -> PyResult<(Record, Vec<Record>)> {
        let id: crm_core::WorkflowId = core(workflow_id.parse())?;
        let (instance, steps) =
            self.read(py, move |tx| Ok((tx.get_workflow(id)?, tx.workflow_history(id)?)))?;
        Ok((Record::new("WorkflowInstance", instance)?, records("WorkflowStep", steps)?))
    }

    /// Revenue, cost and margin per party (optionally in one ``currency``,
    /// converted per order day; ``period`` like ``"2026"``, ``"2026-Q3"``).
    #[pyo3(signature = (*, period = None, currency = None))]
    fn profit_by_party(
        &self,
        py: Python<'_>,
        period: Option<String>,
        currency: Option<String>,
    ) -> PyResult<Vec<Record>> {
        let period = period.map(|p| Period::parse(&p)).transpose().map_err(errors::core)?;
        let currency = currency.map(|c| Currency::new(&c)).transpose().map_err(errors::core)?;
        let rows = self.read(py, move |tx| tx.profit_by_party(period.as_ref(), currency))?;
        records("PartyProfit", rows)
    }

    /// The pipeline report (open, amount, weighted per stage; conversion).
    #[pyo3(signature = (pipeline, *, currency = None, as_of = None))]
    fn pipeline_report(
        &self,
        py: Python<'_>,
        pipeline: String,
        currency: Option<String>,
        as_of: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Record>> {
        let currency = currency.map(|c| Currency::new(&c)).transpose().map_err(errors::core)?;
        let as_of = date(when(as_of.as_ref())?.as_deref(), "as_of")?;
        let rows = self.read(py, move |tx| {
            let day = as_of.unwrap_or(tx.now().date_naive());
            tx.pipeline_report(&pipeline, currency, day)
        })?;
        records("PipelineReport", rows)
    }

    /// The weighted forecast by owner and month (``unit="quarter"`` for
    /// quarters).
    #[pyo3(signature = (period, *, unit = "month", currency = None, as_of = None))]
    fn forecast(
        &self,
        py: Python<'_>,
        period: String,
        unit: &str,
        currency: Option<String>,
        as_of: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Record>> {
        let period = core(Period::parse(&period))?;
        let unit = match unit {
            "month" => PeriodUnit::Month,
            "quarter" => PeriodUnit::Quarter,
            other => {
                return Err(errors::invalid("unit", format!("`{other}` is not month or quarter")));
            }
        };
        let currency = currency.map(|c| Currency::new(&c)).transpose().map_err(errors::core)?;
        let as_of = date(when(as_of.as_ref())?.as_deref(), "as_of")?;
        let rows = self.read(py, move |tx| {
            let day = as_of.unwrap_or(tx.now().date_naive());
            tx.forecast(&period, unit, currency, day)
        })?;
        records("ForecastRow", rows)
    }

    /// Service levels in a period: cases, first responses and resolutions
    /// on time, breaches.
    fn sla_report(&self, py: Python<'_>, period: String) -> PyResult<Record> {
        let period = core(Period::parse(&period))?;
        let report = self.read(py, move |tx| tx.sla_report(&period, tx.now()))?;
        Record::new("SlaReport", report)
    }

    /// Salesperson KPIs for a period, money in ``currency``.
    fn kpi_report(&self, py: Python<'_>, period: String, currency: String) -> PyResult<Record> {
        let period = core(Period::parse(&period))?;
        let currency = core(Currency::new(&currency))?;
        let report = self.read(py, move |tx| tx.kpi_report(&period, currency, tx.now()))?;
        Record::new("KpiReport", report)
    }

    /// Per-customer frequency, recency, age ``T`` and mean repeat spend
    /// from the stored orders (in ``currency``, weeks by default), as
    /// columns: ``pandas.DataFrame(db.customer_summary(...))`` works.
    #[pyo3(signature = (currency, calibration_end, *, observation_end = None, unit = "week"))]
    fn customer_summary<'py>(
        &self,
        py: Python<'py>,
        currency: String,
        calibration_end: Bound<'py, PyAny>,
        observation_end: Option<Bound<'py, PyAny>>,
        unit: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let currency = core(Currency::new(&currency))?;
        let calibration = date(when(Some(&calibration_end))?.as_deref(), "calibration_end")?
            .ok_or_else(|| errors::invalid("calibration_end", "required"))?;
        let observation = date(when(observation_end.as_ref())?.as_deref(), "observation_end")?;
        let unit = crate::analytics::time_unit(unit)?;
        let (parties, summary) =
            self.read(py, move |tx| tx.customer_summary(currency, unit, calibration, observation))?;
        let columns = crate::analytics::summary_columns(py, summary)?;
        columns
            .set_item("party_id", parties.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        Ok(columns)
    }

    /// Moves every customer to the lifecycle stage its purchases say (new,
    /// growing, stable, declining, churned, won back), recording the
    /// reason; the default rules of the library.
    #[pyo3(signature = (currency, *, today = None))]
    fn assign_lifecycle_stages(
        &self,
        py: Python<'_>,
        currency: String,
        today: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Record> {
        let currency = core(Currency::new(&currency))?;
        let today = date(when(today.as_ref())?.as_deref(), "today")?;
        let assignment = self.write(py, move |tx| {
            let day = today.unwrap_or(tx.now().date_naive());
            tx.assign_lifecycle_stages(
                day,
                &crm_core::analytics::LifecycleRules::default(),
                currency,
            )
        })?;
        Record::new("LifecycleAssignment", assignment)
    }

    /// Why customers churned in a period: service, product, commercial,
    /// other or unexplained, from churn reasons, SLA breaches, case types
    /// and lost deals.
    fn churn_causes(&self, py: Python<'_>, period: String) -> PyResult<Record> {
        let period = core(Period::parse(&period))?;
        let causes = self.read(py, move |tx| tx.churn_causes(&period, tx.now()))?;
        Record::new("ChurnCauses", causes)
    }

    /// Key-account scorecards (value, margin, growth, CLV, share of wallet,
    /// service, contacts, risk) for ``accounts`` (ids or external ids) or
    /// every organisation.
    #[pyo3(signature = (currency, *, accounts = None, today = None))]
    fn key_accounts(
        &self,
        py: Python<'_>,
        currency: String,
        accounts: Option<Vec<String>>,
        today: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Record>> {
        let currency = core(Currency::new(&currency))?;
        let today = date(when(today.as_ref())?.as_deref(), "today")?;
        let rows = self.read(py, move |tx| {
            let ids = accounts
                .map(|keys| {
                    keys.iter().map(|k| resolve(tx, k)).collect::<crm_core::Result<Vec<_>>>()
                })
                .transpose()?;
            let day = today.unwrap_or(tx.now().date_naive());
            tx.key_accounts(ids.as_deref(), currency, day)
        })?;
        records("KeyAccount", rows)
    }

    // ----- rules, segments, campaigns, loyalty ------------------------------

    /// Creates a segment from a CEL condition (kept current as parties
    /// change), or a static one from ``members``.
    #[pyo3(signature = (name, condition = None, *, members = Vec::new()))]
    fn create_segment(
        &self,
        py: Python<'_>,
        name: String,
        condition: Option<String>,
        members: Vec<String>,
    ) -> PyResult<Record> {
        let change = self.write(py, move |tx| {
            let ids =
                members.iter().map(|m| resolve(tx, m)).collect::<crm_core::Result<Vec<_>>>()?;
            tx.create_segment(&name, condition.as_deref(), &ids)
        })?;
        Record::new("SegmentChange", change)
    }

    /// The ids of a segment's members.
    #[pyo3(signature = (name, *, offset = 0, limit = 1000))]
    fn segment_members(
        &self,
        py: Python<'_>,
        name: String,
        offset: u64,
        limit: u64,
    ) -> PyResult<Vec<String>> {
        let page = self.read(py, move |tx| tx.segment_members(&name, offset, limit))?;
        Ok(page.items.iter().map(ToString::to_string).collect())
    }

    /// The parties a CEL condition matches now (ids).
    fn matching_parties(&self, py: Python<'_>, condition: String) -> PyResult<Vec<String>> {
        let ids = self.read(py, move |tx| tx.matching_parties(&condition))?;
        Ok(ids.iter().map(ToString::to_string).collect())
    }

    /// Creates a rule from its definition: ``{"name", "trigger",
    /// "condition", "actions"}`` as in the rules documentation.
    fn create_rule(&self, py: Python<'_>, rule: Bound<'_, PyAny>) -> PyResult<()> {
        let rule: crm_core::rules::NewRule = serde_json::from_value(to_json(&rule)?)
            .map_err(|e| errors::invalid("rule", e.to_string()))?;
        self.write(py, move |tx| tx.create_rule(rule))
    }

    /// Messages in the outbox with ``status`` (``"queued"``, or
    /// ``"suppressed"`` with the reason), oldest first, from rules and
    /// campaigns.
    #[pyo3(signature = (status = String::from("queued"), *, limit = 100))]
    fn outbox(&self, py: Python<'_>, status: String, limit: u64) -> PyResult<Vec<Record>> {
        let items = self.read(py, move |tx| tx.outbox(&status, limit))?;
        records("OutboxMessage", items)
    }

    /// Creates a loyalty programme from its definition (``name``,
    /// ``currency``, ``earn`` formula, optional ``expiry_days``, ``tiers``).
    fn create_loyalty_program(&self, py: Python<'_>, program: Bound<'_, PyAny>) -> PyResult<()> {
        let program: crm_core::NewLoyaltyProgram = serde_json::from_value(to_json(&program)?)
            .map_err(|e| errors::invalid("program", e.to_string()))?;
        self.write(py, move |tx| tx.create_loyalty_program(program))
    }

    /// A member's points balance.
    fn points_balance(&self, py: Python<'_>, program: String, key: String) -> PyResult<i64> {
        self.read(py, move |tx| {
            let id = resolve(tx, &key)?;
            tx.points_balance(&program, id)
        })
    }

    /// Awards points (an entry in the ledger).
    #[pyo3(signature = (program, key, points, *, reason = String::from("python")))]
    fn award_points(
        &self,
        py: Python<'_>,
        program: String,
        key: String,
        points: i64,
        reason: String,
    ) -> PyResult<Record> {
        self.write_party(py, "LedgerEntry", key, move |tx, id| {
            tx.award_points(&program, id, points, &reason)
        })
    }

    /// Redeems points; never more than the balance.
    #[pyo3(signature = (program, key, points, *, reason = String::from("python")))]
    fn redeem_points(
        &self,
        py: Python<'_>,
        program: String,
        key: String,
        points: i64,
        reason: String,
    ) -> PyResult<Record> {
        self.write_party(py, "LedgerEntry", key, move |tx, id| {
            tx.redeem_points(&program, id, points, &reason)
        })
    }

    /// Creates a campaign from its definition (``name``, ``segment``,
    /// ``channel``, ``currency``, ``variants``, ``control_bp``, …).
    fn create_campaign(&self, py: Python<'_>, campaign: Bound<'_, PyAny>) -> PyResult<()> {
        let campaign: crm_core::NewCampaign = serde_json::from_value(to_json(&campaign)?)
            .map_err(|e| errors::invalid("campaign", e.to_string()))?;
        self.write(py, move |tx| tx.create_campaign(campaign))
    }

    /// Runs a campaign: enrols its segment, holds out the control group,
    /// queues messages within the budget.
    fn run_campaign(&self, py: Python<'_>, name: String) -> PyResult<Record> {
        let run = self.write(py, move |tx| tx.run_campaign(&name))?;
        Record::new("CampaignRun", run)
    }

    /// A campaign's results with uplift against its control group.
    fn campaign_report(&self, py: Python<'_>, name: String) -> PyResult<Record> {
        let report = self.read(py, move |tx| tx.campaign_report(&name))?;
        Record::new("CampaignReport", report)
    }

    /// Runs the work due at ``now`` (default: the clock's now): segments,
    /// SLA escalations, scheduled rules, loyalty expiry and tier reviews,
    /// scheduled campaigns, and — when plugins are installed — the change
    /// feed to plugins and their ticks.
    #[pyo3(signature = (now = None))]
    fn run_due(&self, py: Python<'_>, now: Option<Bound<'_, PyAny>>) -> PyResult<Record> {
        self.outside_transaction("run_due")?;
        let now = time(when(now.as_ref())?.as_deref(), "now")?.unwrap_or_else(|| self.crm.now());
        let installed = self.read(py, |tx| tx.stored_plugins())?.len();
        if installed == 0 {
            let crm = self.crm.clone();
            let report = core(py.detach(move || crm.run_due(now)))?;
            return Record::new("DueReport", report);
        }
        let due = self.with_plugins(py, move |host| host.run_due(now))?;
        let failed: Vec<Value> = due
            .failed
            .iter()
            .map(|(plugin, seq, error)| {
                serde_json::json!({ "plugin": plugin, "seq": seq, "error": error.to_string() })
            })
            .collect();
        let mut value =
            serde_json::to_value(due.library).map_err(|e| errors::internal(e.to_string()))?;
        if let Value::Object(map) = &mut value {
            map.insert("plugin_events_delivered".into(), due.delivered.into());
            map.insert("plugin_ticks".into(), due.ticks.into());
            map.insert("plugin_failures".into(), Value::Array(failed));
        }
        Record::new("DueReport", value)
    }

    // ----- plugins ----------------------------------------------------------

    /// Installs a WebAssembly plugin: ``component`` is the ``.wasm`` bytes
    /// or path, ``manifest`` the ``plugin.toml`` text or path, ``grants``
    /// the capabilities the application grants.
    #[pyo3(signature = (component, manifest, *, grants = Vec::new()))]
    fn install_plugin(
        &self,
        py: Python<'_>,
        component: Bound<'_, PyAny>,
        manifest: Bound<'_, PyAny>,
        grants: Vec<String>,
    ) -> PyResult<Record> {
        let bytes: Vec<u8> = match component.cast::<PyBytes>() {
            Ok(b) => b.as_bytes().to_vec(),
            Err(_) => {
                let path: std::path::PathBuf = component.extract()?;
                std::fs::read(&path).map_err(|e| {
                    errors::core(crm_core::Error::Io { path: path.clone(), source: e })
                })?
            }
        };
        let text: String = match manifest.extract::<std::path::PathBuf>() {
            Ok(path) if path.extension().is_some_and(|e| e == "toml") && path.is_file() => {
                std::fs::read_to_string(&path).map_err(|e| {
                    errors::core(crm_core::Error::Io { path: path.clone(), source: e })
                })?
            }
            _ => manifest.extract()?,
        };
        let grants: Vec<Capability> = grants
            .iter()
            .map(|g| Capability::parse(g))
            .collect::<Result<_, _>>()
            .map_err(errors::plugin)?;
        let metadata = self.with_plugins(py, move |host| {
            let manifest = Manifest::parse(&text)?;
            host.install(&bytes, manifest, &grants)
        })?;
        Record::new(
            "PluginMetadata",
            serde_json::json!({
                "name": metadata.name, "version": metadata.version, "commands": metadata.commands
            }),
        )
    }

    /// The installed plugins with their granted capabilities.
    fn plugins(&self, py: Python<'_>) -> PyResult<Vec<Record>> {
        let listed = self.with_plugins(py, |host| {
            Ok(host
                .list()
                .into_iter()
                .map(|m| {
                    let grants: Vec<String> = host
                        .capabilities(&m.name)
                        .unwrap_or_default()
                        .iter()
                        .map(|c| c.name().to_owned())
                        .collect();
                    serde_json::json!({ "name": m.name, "version": m.version, "commands": m.commands, "grants": grants })
                })
                .collect::<Vec<_>>())
        })?;
        records("PluginMetadata", listed)
    }

    /// Grants capabilities to an installed plugin.
    fn grant_plugin(
        &self,
        py: Python<'_>,
        name: String,
        capabilities: Vec<String>,
    ) -> PyResult<()> {
        let caps: Vec<Capability> = capabilities
            .iter()
            .map(|g| Capability::parse(g))
            .collect::<Result<_, _>>()
            .map_err(errors::plugin)?;
        self.with_plugins(py, move |host| host.grant(&name, &caps))
    }

    /// Withdraws capabilities from an installed plugin.
    fn revoke_plugin(
        &self,
        py: Python<'_>,
        name: String,
        capabilities: Vec<String>,
    ) -> PyResult<()> {
        let caps: Vec<Capability> = capabilities
            .iter()
            .map(|g| Capability::parse(g))
            .collect::<Result<_, _>>()
            .map_err(errors::plugin)?;
        self.with_plugins(py, move |host| host.revoke(&name, &caps))
    }

    /// Removes a plugin; ``False`` when none had the name.
    fn uninstall_plugin(&self, py: Python<'_>, name: String) -> PyResult<bool> {
        self.with_plugins(py, move |host| host.uninstall(&name))
    }

    /// Calls a plugin command with JSON-able ``args``; returns its output
    /// (parsed from JSON when it is JSON). The actions it returns are
    /// applied in one transaction, as the plugin.
    #[pyo3(signature = (name, command, args = None))]
    fn call_plugin<'py>(
        &self,
        py: Python<'py>,
        name: String,
        command: String,
        args: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = match args {
            None => String::new(),
            Some(a) => match a.extract::<String>() {
                Ok(text) => text,
                Err(_) => to_json(&a)?.to_string(),
            },
        };
        let outcome = self.with_plugins(py, move |host| host.call(&name, &command, &args))?;
        match serde_json::from_str::<Value>(&outcome.output) {
            Ok(value) => from_json(py, &value),
            Err(_) => Ok(pyo3::types::PyString::new(py, &outcome.output).into_any()),
        }
    }
}

/// What ``Crm.transaction()`` returns: a context manager.
#[pyclass(module = "crm._crm")]
pub struct Transaction {
    crm: Py<Crm>,
}

#[pymethods]
impl Transaction {
    fn __enter__(slf: PyRef<'_, Self>, py: Python<'_>) -> PyResult<Py<Crm>> {
        let handle = slf.crm.bind(py).get();
        let mut open = handle.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.is_some() {
            return Err(errors::core(crm_core::Error::Conflict {
                reason: "a transaction is already open on this database handle".into(),
            }));
        }
        let (jobs, inbox) = mpsc::channel::<Message>();
        let (finished, done) = mpsc::channel();
        let (started, ready) = mpsc::channel();
        let crm = handle.crm.clone();
        std::thread::Builder::new()
            .name("crm-python-transaction".into())
            .spawn(move || {
                let mut commit = false;
                let result = crm.write(|tx| {
                    let _ = started.send(());
                    while let Ok(message) = inbox.recv() {
                        match message {
                            Message::Job(job) => job(tx),
                            Message::Finish { commit: c } => {
                                commit = c;
                                break;
                            }
                        }
                    }
                    if commit {
                        Ok(())
                    } else {
                        Err(crm_core::Error::Internal("rolled back".into()))
                    }
                });
                let result = match result {
                    Err(crm_core::Error::Internal(m)) if !commit && m == "rolled back" => Ok(()),
                    other => other,
                };
                let _ = finished.send(result);
            })
            .map_err(|e| errors::internal(format!("cannot start the transaction: {e}")))?;
        // The write lock is held once the thread has begun.
        py.detach(move || ready.recv()).map_err(|_| {
            errors::internal("the transaction could not begin (the database may be busy)")
        })?;
        *open = Some(Open { thread: std::thread::current().id(), jobs, done });
        Ok(slf.crm.clone_ref(py))
    }

    #[pyo3(signature = (exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let handle = self.crm.bind(py).get();
        let Some(open) = handle.open.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return Ok(false);
        };
        let commit = exc_type.is_none_or(|t| t.is_none());
        let _ = open.jobs.send(Message::Finish { commit });
        let done = open.done;
        let result = py
            .detach(move || done.recv())
            .map_err(|_| errors::internal("the transaction's thread has stopped"))?;
        core(result)?;
        Ok(false)
    }
}

/// For the benchmark (benches/python): the seconds one `get_party` takes
/// through the Rust API alone, averaged over `n` calls in Rust, so the
/// binding's overhead can be told apart from the library's work.
#[pyfunction]
fn _time_get_party(py: Python<'_>, db: PyRef<'_, Crm>, key: String, n: u32) -> PyResult<f64> {
    let crm = db.crm.clone();
    core(py.detach(move || {
        let started = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(crm.read(|tx| tx.resolve_party(&key))?);
        }
        Ok(started.elapsed().as_secs_f64() / f64::from(n.max(1)))
    }))
}

/// Registers the classes of this module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Crm>()?;
    m.add_class::<Transaction>()?;
    m.add_function(wrap_pyfunction!(_time_get_party, m)?)?;
    Ok(())
}
