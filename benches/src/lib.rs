//! Benchmarks of `crm` live in `benches/`; this crate has no library code.
//!
//! Run them with `cargo bench -p crm-benches`. Each bench measures `crm`
//! and a reference in the same run and reports the ratio.
