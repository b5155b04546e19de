//! Rust errors as the exceptions of `crm.exceptions`, with their details
//! as attributes.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Builds an exception of class `class` (in `crm.exceptions`) with
/// `message` and keyword details.
fn raise(class: &str, message: String, details: &[(&str, Py<PyAny>)]) -> PyErr {
    Python::attach(|py| {
        let build = || -> PyResult<PyErr> {
            let module =
                MODULE.get_or_try_init(py, || py.import("crm.exceptions").map(Bound::unbind))?;
            let kwargs = PyDict::new(py);
            for (name, value) in details {
                kwargs.set_item(name, value.bind(py))?;
            }
            let instance = module.bind(py).getattr(class)?.call((message,), Some(&kwargs))?;
            Ok(PyErr::from_value(instance))
        };
        build().unwrap_or_else(|e| e)
    })
}

fn py<T: for<'py> IntoPyObject<'py>>(value: T) -> Py<PyAny> {
    use pyo3::IntoPyObjectExt;
    Python::attach(|py| value.into_py_any(py).unwrap_or_else(|_| py.None()))
}

/// An internal error (a bug).
pub(crate) fn internal(message: impl Into<String>) -> PyErr {
    raise("InternalError", message.into(), &[])
}

/// A validation error on a named argument.
pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> PyErr {
    let reason = reason.into();
    raise(
        "ValidationError",
        format!("invalid {field}: {reason}"),
        &[("field", py(field)), ("row", py(None::<u64>)), ("reason", py(reason))],
    )
}

/// The library's error as its exception.
pub(crate) fn core(error: crm_core::Error) -> PyErr {
    use crm_core::Error as E;
    let message = error.to_string();
    match error {
        E::NotFound { entity, id } => {
            raise("NotFoundError", message, &[("entity", py(entity)), ("id", py(id))])
        }
        E::Invalid { at, reason } => raise(
            "ValidationError",
            message,
            &[("field", py(at.column)), ("row", py(at.row)), ("reason", py(reason))],
        ),
        E::Conflict { reason } => raise("ConflictError", message, &[("reason", py(reason))]),
        E::IncompatibleVersion { found, supported } => raise(
            "IncompatibleVersionError",
            message,
            &[("found", py(found)), ("supported", py(supported))],
        ),
        E::DataCorruption { path, detail } => raise(
            "CorruptDatabaseError",
            message,
            &[("path", py(path.display().to_string())), ("detail", py(detail))],
        ),
        E::Io { path, .. } => {
            raise("InputError", message, &[("path", py(path.display().to_string()))])
        }
        E::Storage(storage) => raise("StorageError", message, &[("busy", py(storage.is_busy()))]),
        _ => raise("InternalError", message, &[]),
    }
}

/// The plugin host's error as its exception (a library error inside it
/// keeps its own class).
pub(crate) fn plugin(error: crm_wasm_host::Error) -> PyErr {
    use crm_wasm_host::Error as E;
    let message = error.to_string();
    let (kind, plugin): (&str, Option<String>) = match error {
        E::Crm(inner) => return core(inner),
        E::Manifest(_) => ("manifest", None),
        E::HashMismatch { .. } => ("hash_mismatch", None),
        E::UnsupportedWit { .. } => ("unsupported_wit", None),
        E::NotGranted { plugin, .. } => ("not_granted", Some(plugin)),
        E::UnknownImport { plugin, .. } => ("unknown_import", Some(plugin)),
        E::NotFound(plugin) => ("not_found", Some(plugin)),
        E::UnknownCommand { plugin, .. } => ("unknown_command", Some(plugin)),
        E::Timeout { plugin, .. } => ("timeout", Some(plugin)),
        E::OutOfFuel { plugin, .. } => ("out_of_fuel", Some(plugin)),
        E::ResourceLimit { plugin, .. } => ("resource_limit", Some(plugin)),
        E::Trap { plugin, .. } => ("trap", Some(plugin)),
        E::Plugin { plugin, invalid_input: true, .. } => ("invalid_input", Some(plugin)),
        E::Plugin { plugin, .. } => ("failed", Some(plugin)),
        E::InvalidAction { plugin, .. } => ("invalid_action", Some(plugin)),
        E::CircuitOpen { plugin, .. } => ("circuit_open", Some(plugin)),
        E::Load(_) => ("load", None),
        _ => ("other", None),
    };
    raise("PluginError", message, &[("kind", py(kind)), ("plugin", py(plugin))])
}
