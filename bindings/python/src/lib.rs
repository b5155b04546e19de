//! `crm._crm`: the extension module behind `import crm`.
//!
//! A thin layer over `crm-core` and `crm-wasm-host`: arguments become the
//! library's types, every call releases the GIL while the library works,
//! results come back as immutable records or numpy columns, and errors as
//! the classes of `crm.exceptions`.

mod analytics;
mod convert;
mod db;
mod errors;

use pyo3::prelude::*;

/// The version of the library.
#[pyfunction]
fn version() -> &'static str {
    crm_core::version()
}

#[pymodule]
fn _crm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add("SCHEMA_VERSION", crm_core::SCHEMA_VERSION)?;
    m.add_class::<convert::Record>()?;
    db::register(m)?;
    analytics::register(m)?;
    Ok(())
}
