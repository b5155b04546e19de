//! Between Python and the library: JSON-shaped values both ways, the
//! immutable `Record` that every model object becomes, and the mapping of
//! Rust errors onto the exception hierarchy of `crm.exceptions`.

use std::collections::BTreeMap;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

/// A Python value as JSON: `None`, bools, ints, floats, strings, lists,
/// tuples and dicts with string keys; dates and datetimes as ISO text.
pub(crate) fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.extract()?));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(match obj.extract::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => Value::from(obj.extract::<u64>()?),
        });
    }
    if obj.is_instance_of::<PyFloat>() {
        let f: f64 = obj.extract()?;
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| PyTypeError::new_err(format!("{f} is not a finite number")));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, v) in d.iter() {
            let key: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!("dictionary keys must be strings, not {k:?}"))
            })?;
            map.insert(key, to_json(&v)?);
        }
        return Ok(Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let items: Vec<Value> =
            obj.try_iter()?.map(|item| to_json(&item?)).collect::<PyResult<_>>()?;
        return Ok(Value::Array(items));
    }
    if obj.hasattr("isoformat")? {
        return Ok(Value::String(obj.call_method0("isoformat")?.extract()?));
    }
    Err(PyTypeError::new_err(format!(
        "cannot use a {} here (expected None, bool, int, float, str, list or dict)",
        obj.get_type().name()?
    )))
}

/// A JSON value as plain Python objects.
pub(crate) fn from_json<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(from_json(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, from_json(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// A model object from the library (a party, an order, an event, a
/// report, …): immutable, compared by value, fields as attributes
/// (`party.name`), `to_dict()` for the whole of it.
#[pyclass(frozen, module = "crm._crm")]
pub struct Record {
    kind: &'static str,
    /// Makes the JSON form of the library's value; run once, on first use,
    /// so a call that returns a record costs no serialization until a
    /// field is read.
    source: Box<dyn Fn() -> serde_json::Result<Value> + Send + Sync>,
    data: std::sync::OnceLock<Value>,
}

/// An empty value of a field the library leaves out of its JSON when empty.
#[derive(Clone, Copy)]
enum Empty {
    Null,
    List,
    Map,
}

/// Fields the library's serialization omits when empty, per record type:
/// a record always has every field (`party.tags` is `[]`, not missing).
const OMITTED: &[(&str, &[(&str, Empty)])] = {
    use Empty::{List, Map, Null};
    &[
        (
            "Party",
            &[
                ("roles", List),
                ("stage", Null),
                ("owner", Null),
                ("language", Null),
                ("currency", Null),
                ("tags", List),
                ("fields", Map),
                ("external_ids", List),
                ("contacts", List),
                ("notes", Null),
                ("deleted_at", Null),
                ("merged_into", Null),
            ],
        ),
        ("ContactPoint", &[("label", Null), ("consents", List)]),
        (
            "Case",
            &[
                ("external_id", Null),
                ("description", Null),
                ("category", Null),
                ("assignee", Null),
                ("sla_policy", Null),
                ("tier", Null),
                ("first_response_at", Null),
                ("first_response_due", Null),
                ("resolution_due", Null),
                ("resolved_at", Null),
                ("closed_at", Null),
                ("satisfaction", Null),
                ("churn_reason", Null),
                ("interaction_id", Null),
            ],
        ),
        (
            "Opportunity",
            &[("external_id", Null), ("owner", Null), ("close_reason", Null), ("closed_at", Null)],
        ),
        ("Order", &[("external_id", Null), ("owner", Null), ("quote_id", Null)]),
        ("Product", &[("name_zh", Null), ("category", Null), ("unit_cost", Null)]),
    ]
};

impl Record {
    /// A record of `kind` (the class name shown by `repr`) holding `value`.
    pub(crate) fn new<T: serde::Serialize + Send + Sync + 'static>(
        kind: &'static str,
        value: T,
    ) -> PyResult<Record> {
        Ok(Record {
            kind,
            source: Box::new(move || serde_json::to_value(&value)),
            data: std::sync::OnceLock::new(),
        })
    }

    /// Records from a list.
    pub(crate) fn list<T: serde::Serialize + Send + Sync + 'static>(
        kind: &'static str,
        values: Vec<T>,
    ) -> PyResult<Vec<Record>> {
        values.into_iter().map(|v| Record::new(kind, v)).collect()
    }

    /// The record as JSON, with every field (made on first use).
    fn data(&self) -> PyResult<&Value> {
        if let Some(data) = self.data.get() {
            return Ok(data);
        }
        let mut data = (self.source)()
            .map_err(|e| crate::errors::internal(format!("cannot convert a {}: {e}", self.kind)))?;
        if let (Value::Object(map), Some((_, fields))) =
            (&mut data, OMITTED.iter().find(|(k, _)| *k == self.kind))
        {
            for (name, empty) in *fields {
                map.entry(*name).or_insert_with(|| match empty {
                    Empty::Null => Value::Null,
                    Empty::List => Value::Array(Vec::new()),
                    Empty::Map => Value::Object(serde_json::Map::new()),
                });
            }
        }
        Ok(self.data.get_or_init(|| data))
    }
}

/// The fields `repr` shows first, when a record has them.
const FIRST: &[&str] = &["id", "seq", "kind", "name", "title", "subject", "number", "status"];

fn short(value: &Value) -> String {
    match value {
        Value::String(s) if s.chars().count() > 40 => {
            format!("'{}…'", s.chars().take(40).collect::<String>().replace('\'', "\\'"))
        }
        Value::String(s) => format!("'{}'", s.replace('\'', "\\'")),
        Value::Array(items) => format!("[{} items]", items.len()),
        Value::Object(map) => format!("{{{} keys}}", map.len()),
        other => other.to_string(),
    }
}

#[pymethods]
impl Record {
    /// The kind of record (`"Party"`, `"Order"`, …).
    #[getter]
    fn record_type(&self) -> &'static str {
        self.kind
    }

    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.data()?.get(name) {
            Some(value) => from_json(py, value),
            None => Err(pyo3::exceptions::PyAttributeError::new_err(format!(
                "{} has no field `{name}`; it has: {}",
                self.kind,
                self.keys()?.join(", ")
            ))),
        }
    }

    fn __getitem__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.data()?.get(name) {
            Some(value) => from_json(py, value),
            None => Err(pyo3::exceptions::PyKeyError::new_err(name.to_owned())),
        }
    }

    fn __contains__(&self, name: &str) -> PyResult<bool> {
        Ok(self.data()?.get(name).is_some())
    }

    /// The field names.
    fn keys(&self) -> PyResult<Vec<String>> {
        Ok(match self.data()? {
            Value::Object(map) => map.keys().cloned().collect(),
            _ => Vec::new(),
        })
    }

    fn __dir__(&self) -> PyResult<Vec<String>> {
        let mut names = self.keys()?;
        names.extend(["to_dict", "keys", "record_type"].map(str::to_owned));
        Ok(names)
    }

    /// The whole record as plain Python values (dicts, lists, str, int,
    /// float, bool, None).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        from_json(py, self.data()?)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<Record>() else { return Ok(false) };
        let other = other.get();
        Ok(other.kind == self.kind && other.data()? == self.data()?)
    }

    fn __hash__(&self) -> PyResult<u64> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.kind.hash(&mut hasher);
        self.data()?.to_string().hash(&mut hasher);
        Ok(hasher.finish())
    }

    fn __repr__(&self) -> PyResult<String> {
        let data = self.data()?;
        let Value::Object(map) = data else {
            return Ok(format!("{}({})", self.kind, data));
        };
        let mut parts: Vec<String> = FIRST
            .iter()
            .filter_map(|k| {
                map.get(*k).filter(|v| !v.is_null()).map(|v| format!("{k}={}", short(v)))
            })
            .collect();
        let rest: BTreeMap<&String, &Value> =
            map.iter().filter(|(k, v)| !FIRST.contains(&k.as_str()) && !v.is_null()).collect();
        for (k, v) in rest.into_iter().take(6usize.saturating_sub(parts.len()).max(2)) {
            parts.push(format!("{k}={}", short(v)));
        }
        let hidden = map.len().saturating_sub(parts.len());
        if hidden > 0 {
            parts.push("…".to_owned());
        }
        Ok(format!("{}({})", self.kind, parts.join(", ")))
    }
}
